"""The embedded DuckDB warehouse's table operations (the default engine).

`DuckDBTables` and `sop_pipeline.warehouse_engines.postgres.PostgresTables` have the same methods,
and they are the only place where the pipeline's own Python talks to the warehouse:

- `read(schema, table)` -> DataFrame, `read_arrow(schema, table)` -> pyarrow Table (column types kept);
- `replace(schema, table, data)` (a DataFrame or a pyarrow Table), `replace_rows(schema, table, data,
  column, value)` (one cycle of a history table), `delete_rows(schema, table, column, value)`;
- `exists`, `table_names(schema)`, `count`, `cycles`, `describe` (the IO manager's metadata);
- `query(sql, params)`: a read in *portable* SQL (what DuckDB and PostgreSQL both run: explicit
  `group by` lists, `cast(x as type)`, no `::`, `group by all`, `arg_max`, `insert ... by name`), with
  `?` placeholders; the result is a DataFrame with DuckDB's dtypes on either engine.

The `Warehouse` resource gives the engine's object (`Warehouse.tables()`).
"""

from __future__ import annotations

import dagster as dg
import duckdb
import pandas as pd

PREVIEW_ROWS = 5
CYCLE_COLUMN = "cycle_id"
# `read` converts the result to pandas this many DuckDB vectors (2,048 rows each) at a time: `.df()`
# on the whole result holds DuckDB's copy and the conversion at once (reading the 4.4M-row
# demand history at `large` peaked at 3.2 GB for a 0.72 GB frame; in chunks 1.5 GB).
READ_CHUNK_VECTORS = 64


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _name(schema: str, table: str) -> str:
    return f"{_quoted(schema)}.{_quoted(table)}"


def _same_dtypes(parts: list[pd.DataFrame]) -> None:
    """Give a chunk's all-NULL column the dtype the other chunks have (in place).

    DuckDB converts a chunk in which a text column is all NULL to `object`, where the whole result
    gives pandas' string dtype: concatenated, the column would be `object`."""
    for column in parts[0].columns:
        kinds = {str(p[column].dtype) for p in parts}
        if len(kinds) == 1:
            continue
        filled = {str(p[column].dtype): p[column].dtype for p in parts if p[column].notna().any()}
        if len(filled) != 1:
            continue
        (dtype,) = filled.values()
        for p in parts:
            if p[column].dtype != dtype and not p[column].notna().any():
                p[column] = p[column].astype(dtype)


class DuckDBTables:
    """Read, replace and describe whole tables on one open DuckDB connection."""

    engine = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    # --- reads

    def read(self, schema: str, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        """The table (or only `columns` of it, in that order) as a DataFrame, in table order.

        Converted in chunks of READ_CHUNK_VECTORS vectors and concatenated: the same frame as
        `.df()` (rows, order and dtypes; on the one-thread connection of the `Warehouse` resource the
        streamed result has the materialized one's order) with a much smaller peak."""
        cols = "*" if not columns else ", ".join(_quoted(c) for c in columns)
        result = self.con.execute(f"select {cols} from {_name(schema, table)}")
        parts = []
        while True:
            part = result.fetch_df_chunk(READ_CHUNK_VECTORS)
            if len(part) == 0 and parts:
                break
            parts.append(part)
            if len(part) == 0:
                break
        if len(parts) == 1:
            return parts[0]
        _same_dtypes(parts)
        frame = pd.concat(parts, ignore_index=True)
        del parts
        return frame

    def read_arrow(self, schema: str, table: str):
        return self.con.sql(f"select * from {_name(schema, table)}").to_arrow_table()

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """A portable SQL read (module doc) with `?` placeholders."""
        return self.con.execute(sql, params or []).df()

    def exists(self, schema: str, table: str) -> bool:
        return bool(
            self.con.execute(
                "select count(*) from information_schema.tables where table_schema = ? and table_name = ? "
                "and table_catalog = current_database()",
                [schema, table],
            ).fetchall()[0][0]
        )

    def table_names(self, schema: str) -> list[str]:
        return [
            r[0]
            for r in self.con.execute(
                "select table_name from information_schema.tables where table_schema = ? "
                "and table_catalog = current_database() order by table_name",
                [schema],
            ).fetchall()
        ]

    def count(self, schema: str, table: str) -> int:
        return int(self.con.execute(f"select count(*) from {_name(schema, table)}").fetchall()[0][0])

    # --- writes

    def replace(self, schema: str, table: str, frame) -> None:
        """Replace schema.table by the rows and column types of `frame` (DataFrame or pyarrow Table)."""
        self.con.execute(f"create schema if not exists {_quoted(schema)}")
        self.con.register("_io_manager_frame", frame)
        try:
            self.con.execute(f"create or replace table {_name(schema, table)} as select * from _io_manager_frame")
        finally:
            self.con.unregister("_io_manager_frame")

    def replace_rows(self, schema: str, table: str, frame, column: str, value) -> None:
        """Replace the rows of ``table`` whose ``column`` = ``value`` with ``frame`` (keep all others), in one
        transaction: a failure leaves the previous rows. The table is created from the frame's columns when
        it does not exist; columns the frame has and the table lacks are added (older rows get NULL)."""
        name = _name(schema, table)
        self.con.execute(f"create schema if not exists {_quoted(schema)}")
        self.con.register("_io_manager_rows", frame)
        try:
            self.con.execute(f"create table if not exists {name} as select * from _io_manager_rows where false")
            have = {
                r[0]
                for r in self.con.execute(
                    "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                    "and table_catalog = current_database()",
                    [schema, table],
                ).fetchall()
            }
            for col, kind in self.con.execute(
                "select column_name, data_type from information_schema.columns where table_name = '_io_manager_rows'"
            ).fetchall():
                if col not in have:
                    self.con.execute(f"alter table {name} add column {_quoted(col)} {kind}")
            self.con.execute("begin transaction")
            try:
                self.con.execute(f"delete from {name} where {_quoted(column)} = ?", [value])
                self.con.execute(f"insert into {name} by name select * from _io_manager_rows")
                self.con.execute("commit")
            except Exception:
                self.con.execute("rollback")
                raise
        finally:
            self.con.unregister("_io_manager_rows")

    def delete_rows(self, schema: str, table: str, column: str, value) -> None:
        """Delete the rows whose ``column`` = ``value`` (nothing when the table does not exist)."""
        if self.exists(schema, table):
            self.con.execute(f"delete from {_name(schema, table)} where {_quoted(column)} = ?", [value])

    # --- the IO manager's metadata

    def cycles(self, schema: str, table: str, column: str = CYCLE_COLUMN) -> tuple[int, int]:
        """(distinct values of ``column``, rows) of a history table."""
        n, rows = self.con.execute(
            f"select count(distinct {_quoted(column)}), count(*) from {_name(schema, table)}"
        ).fetchall()[0]
        return int(n), int(rows)

    def describe(self, schema: str, table: str, preview_rows: int = PREVIEW_ROWS) -> dict:
        from sop_pipeline.assets.common import markdown_table

        name = _name(schema, table)
        rows = self.con.execute(f"select count(*) from {name}").fetchall()[0][0]
        preview = self.con.execute(f"select * from {name} limit {int(preview_rows)}").df()
        return {
            "dagster/row_count": dg.MetadataValue.int(int(rows)),
            "preview": dg.MetadataValue.md(markdown_table(preview)),
        }
