"""Helpers shared by the asset modules: owners, IO-manager inputs, metadata previews.

Python assets read and write whole warehouse tables through the warehouse IO manager
(`sop_pipeline.io_manager`); an output whose `warehouse_asset(group, history="schema.table")` names
a history table also keeps this cycle's copy there (one copy per cycle, written by the IO manager).
The read side of history (previous cycle's plan, seeding from the plan_history extract) is
`sop_pipeline.history`, re-exported here for the asset modules. Every asset is partitioned by the
cycle's week in `definitions.build_defs` (`sop_pipeline.partitions`).
"""

from datetime import date

import dagster as dg
import pandas as pd

from sop_pipeline.history import (  # noqa: F401  (the asset modules import them from here)
    append_forecast_history,
    append_history,
    forecast_history_frame,
    plan_history_before,
    previous_plan,
    seed_history_from_extract,
)

HISTORY_KEY = "sop/history"  # = sop_pipeline.io_manager.HISTORY_KEY (that module imports this one)

# Owners follow the RACI of the S&OP process (seed article): teams, not people.
OWNERS = {
    "ingest": ["team:data-engineering"],
    "staging": ["team:data-engineering"],
    "demand": ["team:demand-planning"],
    "inventory": ["team:supply-planning"],
    "supply": ["team:master-scheduling"],
    "finance": ["team:finance"],
    "risk": ["team:procurement"],
    "plan": ["team:sop-office"],
    "publish": ["team:data-engineering"],
}

# The IO manager of the Python assets' DataFrames (sop_pipeline.io_manager): asset [schema, table]
# <-> warehouse table schema.table.
WAREHOUSE_IO = "warehouse_io_manager"


def warehouse_asset(group: str, history: str | None = None) -> dict:
    """Group, owners (the area's RACI team), kinds and IO manager of a Python analytics asset whose
    DataFrames the warehouse IO manager reads and writes: ``@dg.asset(**warehouse_asset("finance"))``
    or ``dg.AssetOut(**warehouse_asset("supply"))``. ``history="schema.table"``: the IO manager also
    keeps this cycle's copy of the output in that table (replacing only this cycle's rows; the output's
    own table when they are the same)."""
    spec = dict(group_name=group, owners=OWNERS[group], kinds={"python", "duckdb"}, io_manager_key=WAREHOUSE_IO)
    if history:
        spec["metadata"] = {HISTORY_KEY: history}
    return spec


def table_in(*key: str) -> dg.AssetIn:
    """An asset input read whole from the warehouse table `schema.table` of asset key [schema, table]
    (a dbt model, a Python asset's output or a meta table) as a DataFrame."""
    return dg.AssetIn(key=list(key), input_manager_key=WAREHOUSE_IO)


def as_of_date(cycle: pd.DataFrame) -> date:
    """The cycle's as-of date from the meta.cycle frame (one row)."""
    if cycle.empty:
        raise RuntimeError("meta.cycle is empty: materialize the `cycle` asset first")
    return pd.Timestamp(cycle["as_of"].iloc[0]).date()


def absent_in(ingest_log: pd.DataFrame) -> set[str]:
    """Extracts this cycle did not get (status 'absent' in the meta.ingest_log frame)."""
    return set(ingest_log.loc[ingest_log["status"] == "absent", "extract"])


def breaks_check(
    name: str,
    what: str | None,
    ok: str,
    breaks: list[str],
    asset_key: dg.AssetKey | None = None,
    limit: int = 5,
    **metadata,
) -> dg.AssetCheckResult:
    """A check result that passes when `breaks` is empty (description `ok`); otherwise it names the
    first `limit` breaks, after `what: N break(s):` when `what` is given. Metadata: the number of
    breaks, plus `metadata`."""
    if not breaks:
        description = ok
    elif what:
        description = f"{what}: {len(breaks)} break(s): {'; '.join(breaks[:limit])}"
    else:
        description = "; ".join(breaks[:limit])
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=name,
        passed=not breaks,
        description=description,
        metadata={"breaks": len(breaks), **metadata},
    )


def markdown_table(df: pd.DataFrame, max_rows: int = 10) -> str:
    """A small markdown table for asset metadata (no tabulate dependency)."""
    if df.empty:
        return "_no rows_"
    shown = df.head(max_rows)
    cells = [[_cell(v) for v in row] for row in shown.itertuples(index=False)]
    lines = ["| " + " | ".join(map(str, shown.columns)) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    if len(df) > max_rows:
        lines.append(f"\n_{len(df) - max_rows} more rows_")
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value).replace("|", "\\|").replace("\n", " ")[:80]


def decisions_as_of(decisions: pd.DataFrame, as_of) -> pd.DataFrame:
    """The decision log extract as the plan reads it (`analytics.decisions.decisions_as_of`)."""
    from sop_pipeline.analytics import decisions as decision_log_lib

    return decision_log_lib.decisions_as_of(decisions, as_of)
