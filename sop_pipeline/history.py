"""Per-cycle history tables in the warehouse: `history.<table>` (plan of record, decision log, ...)
and `analytics.forecast_history`, one copy per cycle.

These are the only warehouse statements outside the IO manager (`sop_pipeline.io_manager`) and
ingest: a cycle's copy is appended (its earlier copy replaced) on a short connection of its own,
before or after an asset computes, never while it does. The cycle-as-partition work would turn
them into partitioned outputs of the IO manager.
"""

from __future__ import annotations

import duckdb
import pandas as pd


def _query(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    """Run a query on the warehouse and return a DataFrame (fully consumed)."""
    return con.execute(sql, params or []).df()


def append_history(con, table: str, frame: pd.DataFrame, cycle_id) -> None:
    """Keep one copy per cycle in history.<table>: replace this cycle's rows only."""
    con.execute("create schema if not exists history")
    con.register("_history_rows", frame)
    try:
        con.execute(f"create table if not exists history.{table} as select * from _history_rows where false")
        # a newer pipeline may publish more columns: add them (older cycles get NULL)
        have = {
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns where table_schema = 'history' and table_name = ?",
                [table],
            ).fetchall()
        }
        for name, kind in con.execute(
            "select column_name, data_type from information_schema.columns where table_name = '_history_rows'"
        ).fetchall():
            if name not in have:
                con.execute(f'alter table history.{table} add column "{name}" {kind}')
        con.execute("begin transaction")  # a killed run never leaves the cycle half replaced
        try:
            con.execute(f"delete from history.{table} where cycle_id = ?", [cycle_id])
            con.execute(f"insert into history.{table} by name select * from _history_rows")
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    finally:
        con.unregister("_history_rows")


# --- history.* (one copy per cycle; the cycle-as-partition work replaces these): short connections of
# their own, before and after an asset computes, never held while it does.


def plan_history_before(warehouse, as_of, absent: set[str]) -> tuple[list, pd.DataFrame | None]:
    """Seed history.plan_of_record from the plan_history extract (`seed_history_from_extract`), then
    read the latest cycle's plan before ``as_of`` (None without one). Returns (cycles seeded, plan)."""
    with warehouse.connect() as con:
        seeded = seed_history_from_extract(con, as_of, absent)
        return seeded, previous_plan(con, as_of)


def keep_history(warehouse, tables: dict[str, pd.DataFrame], cycle_id) -> int:
    """Replace this cycle's copy of each table in history.<name>; return the cycles history.plan_of_record holds."""
    with warehouse.connect() as con:
        for name, frame in tables.items():
            append_history(con, name, frame, cycle_id)
        return int(_query(con, "select count(distinct cycle_id) as n from history.plan_of_record").n.iloc[0])


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
        group by all order by h.cycle_id, h.sku, week_start""",
        [as_of],
    )
    if rows.empty:
        return []
    held = set()
    if _query(
        con,
        "select count(*) as n from information_schema.tables where table_schema = 'history' "
        "and table_name = 'plan_of_record'",
    ).n.iloc[0]:
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
    exists = _query(
        con,
        "select count(*) as n from information_schema.tables where table_schema = 'history' "
        "and table_name = 'plan_of_record'",
    )["n"].iloc[0]
    if not exists:
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


# --- analytics.forecast_history (the demand forecast's snapshots, one copy per cycle)


def keep_forecast_history(warehouse, sku_forecast: pd.DataFrame, cycle_id) -> dict:
    """Replace this cycle's rows of analytics.forecast_history on a short connection of its own;
    return the metadata of the forecast_history asset."""
    with warehouse.connect() as con:
        return append_forecast_history(con, sku_forecast, cycle_id)


def append_forecast_history(con, sku_forecast: pd.DataFrame, cycle_id) -> dict:
    """Replace this cycle's rows of analytics.forecast_history with the published SKU forecast
    (`demand_inputs.forecast_history_rows`), keep every other cycle."""
    from sop_pipeline.analytics.demand_inputs import FORECAST_HISTORY_COLUMNS, forecast_history_rows

    rows = forecast_history_rows(sku_forecast)
    columns = ", ".join(FORECAST_HISTORY_COLUMNS)
    con.execute("create schema if not exists analytics")
    con.execute(
        "create table if not exists analytics.forecast_history (cycle_id DATE, sku VARCHAR, "
        "family VARCHAR, week_start DATE, lag INTEGER, units_p10 DOUBLE, units_p50 DOUBLE, "
        "units_p90 DOUBLE, model VARCHAR, method VARCHAR)"
    )
    con.register("_fh", rows)
    try:
        con.execute("begin transaction")
        con.execute("delete from analytics.forecast_history where cycle_id = ?", [cycle_id])
        con.execute(f"insert into analytics.forecast_history select {columns} from _fh")
        con.execute("commit")
    finally:
        con.unregister("_fh")
    cycles = con.execute("select count(distinct cycle_id), count(*) from analytics.forecast_history").fetchall()[0]
    return {"dagster/row_count": int(cycles[1]), "cycles_stored": int(cycles[0]), "rows_this_cycle": len(rows)}
