"""Per-cycle history tables in the warehouse: `history.<table>` (plan of record, decision log) and
`analytics.forecast_history`, one copy per cycle.

History is the partitions: each cycle's copy is written by the warehouse IO manager
(`sop_pipeline.io_manager`) for the outputs that declare `sop/history` metadata - the plan's
`history/plan_of_record` and `analytics/decision_log`, the forecast's `analytics/forecast_history` -
replacing that cycle's rows and keeping every other cycle's. What is left here is read-side: the
previous cycle's plan (`previous_plan`, for the freeze window), seeding history.plan_of_record from
the plan_history extract before the plan computes (`plan_history_before`, a short connection of its
own), the frame of forecast snapshots (`forecast_history_frame`), and `append_history` /
`append_forecast_history`, the same row replacement on an open connection (seeding, tests).
"""

from __future__ import annotations

import duckdb
import pandas as pd

from sop_pipeline.warehouse_engines.duckdb_tables import CYCLE_COLUMN, DuckDBTables


def _ops(con):
    """The warehouse engine's table operations (`Warehouse.tables()`); a DuckDB connection (tests) gets
    DuckDB's. Every statement here is portable SQL (both engines run it)."""
    return DuckDBTables(con) if isinstance(con, duckdb.DuckDBPyConnection) else con


def _query(con, sql: str, params: list | None = None) -> pd.DataFrame:
    """Run a portable query on the warehouse and return a DataFrame (fully consumed)."""
    return _ops(con).query(sql, params)


def append_history(con, table: str, frame: pd.DataFrame, cycle_id) -> None:
    """Keep one copy per cycle in history.<table>: replace this cycle's rows only (the IO manager's
    `replace_rows`, on open table operations or a DuckDB connection)."""
    _ops(con).replace_rows("history", table, frame, CYCLE_COLUMN, cycle_id)


# --- history.plan_of_record, read side (the IO manager writes each cycle's copy)


def plan_history_before(warehouse, as_of, absent: set[str]) -> tuple[list, pd.DataFrame | None]:
    """Seed history.plan_of_record from the plan_history extract (`seed_history_from_extract`), then
    read the latest cycle's plan before ``as_of`` (None without one). Returns (cycles seeded, plan)."""
    with warehouse.tables() as tables:
        seeded = seed_history_from_extract(tables, as_of, absent)
        return seeded, previous_plan(tables, as_of)


def seed_history_from_extract(con, as_of, absent: set[str]) -> list:
    """Copy each cycle of the optional plan_history extract (plans of record published before this
    pipeline kept history: the last meeting's plan, the previous tool's export) that is earlier
    than ``as_of`` and not yet in history.plan_of_record into it, so the freeze window and
    plan_changes work from the first run. A cycle history already holds is never overwritten (the
    pipeline's own copy wins). Weeks are taken to their ISO Monday; family defaults to the item
    master's. Returns the cycles added."""
    from sop_pipeline.analytics.calendar import Cycle

    if "plan_history" in absent:
        return []
    rows = _query(
        con,
        """
        select h.cycle_id, h.sku, coalesce(h.family, i.family) as family, h.iso_week_start as week_start,
               sum(h.demand_units) as demand_units, sum(h.supply_units) as supply_units, sum(h.revenue) as revenue
        from staging.stg_sop__plan_history h left join staging.stg_erp__items i using (sku)
        where h.cycle_id < ?
        group by h.cycle_id, h.sku, coalesce(h.family, i.family), h.iso_week_start
        order by h.cycle_id, h.sku, week_start""",
        [as_of],
    )
    if rows.empty:
        return []
    held = set()
    if _ops(con).exists("history", "plan_of_record"):
        held = {pd.Timestamp(c) for c in _query(con, "select distinct cycle_id from history.plan_of_record").cycle_id}
    added = []
    for cycle_id, frame in rows.groupby("cycle_id", sort=True):
        cycle_id = pd.Timestamp(cycle_id).date()
        if pd.Timestamp(cycle_id) in held:
            continue
        week1 = pd.Timestamp(Cycle(cycle_id).week1_start)
        frame = frame.assign(cycle_id=cycle_id, week_start=pd.to_datetime(frame.week_start))
        frame = frame.assign(
            horizon_week=((frame.week_start - week1).dt.days // 7 + 1).astype("int64"),
            supply_source="history",
            decision_ids="",
            demand_source="plan_history extract",
            notes="plan of record from the plan_history extract",
        )
        append_history(con, "plan_of_record", frame.reset_index(drop=True), cycle_id)
        added.append(cycle_id)
    return added


def previous_plan(con, cycle_id) -> pd.DataFrame | None:
    """The latest cycle's plan of record in history before ``cycle_id`` (None without one)."""
    if not _ops(con).exists("history", "plan_of_record"):
        return None
    prev = _query(con, "select max(cycle_id) as c from history.plan_of_record where cycle_id < ?", [cycle_id])
    if prev.c.isna().all():
        return None
    return _query(
        con,
        "select sku, week_start, supply_units, demand_units, revenue, family, cycle_id "
        "from history.plan_of_record where cycle_id = ?",
        [prev.c.iloc[0]],
    )


def previous_cycle_rows(con, schema: str, table: str, cycle_id) -> pd.DataFrame | None:
    """The rows of the latest cycle before ``cycle_id`` in a per-cycle history table (`schema.table`,
    written by the IO manager for an output with `sop/history` metadata, e.g. history.exceptions);
    None when the table is not there or holds no earlier cycle."""
    if not _ops(con).exists(schema, table):
        return None
    prev = _query(con, f"select max(cycle_id) as c from {schema}.{table} where cycle_id < ?", [cycle_id])
    if prev.c.isna().all():
        return None
    return _query(con, f"select * from {schema}.{table} where cycle_id = ?", [prev.c.iloc[0]])


# --- analytics.forecast_history (the demand forecast's snapshots, one copy per cycle)

FORECAST_HISTORY_TYPES = {"lag": "int32", "units_p10": "float64", "units_p50": "float64", "units_p90": "float64"}


def forecast_history_frame(sku_forecast: pd.DataFrame) -> pd.DataFrame:
    """This cycle's rows of analytics.forecast_history (`demand_inputs.forecast_history_rows`: SKU x week
    x lag) in the table's columns and types (cycle_id, week_start DATE; lag INTEGER; units DOUBLE)."""
    from sop_pipeline.analytics.demand_inputs import FORECAST_HISTORY_COLUMNS, forecast_history_rows

    rows = forecast_history_rows(sku_forecast)[FORECAST_HISTORY_COLUMNS].reset_index(drop=True)
    return rows.assign(
        cycle_id=pd.to_datetime(rows.cycle_id).dt.date,
        week_start=pd.to_datetime(rows.week_start).dt.date,
        sku=rows.sku.astype(str),
        family=rows.family.astype(str),
        model=rows.model.astype(str),
        method=rows.method.astype(str),
    ).astype(FORECAST_HISTORY_TYPES)


def append_forecast_history(con, sku_forecast: pd.DataFrame, cycle_id) -> dict:
    """Replace this cycle's rows of analytics.forecast_history with the published SKU forecast on an open
    connection (what the IO manager does for the `analytics/forecast_history` output), keep every other
    cycle; return the counts."""
    rows = forecast_history_frame(sku_forecast)
    tables = _ops(con)
    tables.replace_rows("analytics", "forecast_history", rows, CYCLE_COLUMN, cycle_id)
    cycles, total = tables.cycles("analytics", "forecast_history")
    return {"dagster/row_count": total, "cycles_stored": cycles, "rows_this_cycle": len(rows)}
