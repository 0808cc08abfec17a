"""Helpers shared by the asset modules: owners, metadata previews, table I/O."""

from datetime import date

import dagster as dg
import duckdb
import pandas as pd

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

def table_metadata(con: duckdb.DuckDBPyConnection, table: str, preview_rows: int = 5) -> dict:
    """Row count and a markdown preview of a warehouse table."""
    n = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    preview = con.execute(f"select * from {table} limit {preview_rows}").df()
    return {"dagster/row_count": dg.MetadataValue.int(int(n)),
            "preview": dg.MetadataValue.md(markdown_table(preview))}


def write_table(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame, schema: str = "analytics") -> dict:
    """Replace `schema.table` with `df`; return row count + preview metadata.

    Python assets write their outputs here (schema `analytics`); dbt marts read them as sources.
    """
    con.execute(f"create schema if not exists {schema}")
    con.register("_write_table_df", df)
    try:
        con.execute(f'create or replace table {schema}."{table}" as select * from _write_table_df')
    finally:
        con.unregister("_write_table_df")
    return table_metadata(con, f'{schema}."{table}"')


def read_table(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    """Run a query on the warehouse and return a DataFrame (fully consumed)."""
    return con.execute(sql, params or []).df()


def cycle_as_of(con: duckdb.DuckDBPyConnection):
    """The cycle's as-of date from meta.cycle."""
    return con.execute("select as_of from meta.cycle").fetchall()[0][0]


def cycle_decisions(con: duckdb.DuckDBPyConnection, as_of) -> pd.DataFrame:
    """The decision log extract as the plan reads it: columns renamed to the analytics' names
    (cycle, value), a decision_id for every row, cycles after the as-of left out."""
    return decisions_as_of(read_table(con, "select * from staging.stg_sop__decisions"), as_of)


def decisions_as_of(decisions: pd.DataFrame, as_of) -> pd.DataFrame:
    """`cycle_decisions` from the staged decision log frame (stg_sop__decisions)."""
    from sop_pipeline.analytics import decisions as decision_log_lib

    decisions = decisions.rename(columns={"cycle_date": "cycle", "decision_value": "value"})
    if "decision_id" not in decisions or decisions.decision_id.isna().any():
        decisions["decision_id"] = [decision_log_lib.decision_id(c, k, s) for c, k, s in
                                    zip(decisions.cycle, decisions.kind, decisions.subject)]
    return decisions[pd.to_datetime(decisions.cycle) <= pd.Timestamp(as_of)]


def absent_extracts(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Extracts this cycle did not get (meta.ingest_log status 'absent'): their sections say 'no data'."""
    return {r[0] for r in con.execute("select extract from meta.ingest_log where status = 'absent'").fetchall()}


def append_history(con, table: str, frame: pd.DataFrame, cycle_id) -> None:
    """Keep one copy per cycle in history.<table>: replace this cycle's rows only."""
    con.execute("create schema if not exists history")
    con.register("_history_rows", frame)
    try:
        con.execute(f"create table if not exists history.{table} as select * from _history_rows where false")
        # a newer pipeline may publish more columns: add them (older cycles get NULL)
        have = {r[0] for r in con.execute("select column_name from information_schema.columns where "
                                          "table_schema = 'history' and table_name = ?", [table]).fetchall()}
        for name, kind in con.execute("select column_name, data_type from information_schema.columns where "
                                      "table_name = '_history_rows'").fetchall():
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
