"""The warehouse IO manager: Python assets take DataFrames in and return DataFrames; this moves them.

The pattern of `dagster-duckdb-pandas`: an asset key `[schema, table]` is the warehouse table
`schema.table` (dbt models are `staging/x`, `intermediate/x`, `marts/x`; Python outputs
`analytics/x`). `load_input` reads the whole table, `handle_output` replaces it and attaches the
row count and a preview. Each call opens its own short-lived connection through the `Warehouse`
resource (its lock wait and its one DuckDB thread, which keeps float aggregates bit-identical
from run to run) and closes it before returning: no connection is held while an asset computes.

Everything engine-specific is in `DuckDBTables` (three statements); a second engine (PostgreSQL)
is another class with the same three methods, chosen by the IO manager.
"""

from __future__ import annotations

import dagster as dg
import duckdb
import pandas as pd

from sop_pipeline.assets.common import markdown_table
from sop_pipeline.resources import Warehouse

PREVIEW_ROWS = 5


class WarehouseTableError(ValueError):
    """An asset key that names no warehouse table, or an output that is not a DataFrame."""


def table_for(asset_key: dg.AssetKey) -> tuple[str, str]:
    """The warehouse table (schema, table) of an asset key `[schema, table]`."""
    path = list(asset_key.path)
    if len(path) != 2:
        raise WarehouseTableError(
            f"asset {asset_key.to_user_string()} names no warehouse table: the IO manager "
            "stores assets whose key is [schema, table]"
        )
    return path[0], path[1]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class DuckDBTables:
    """Read, replace and describe whole tables on one open DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def read(self, schema: str, table: str) -> pd.DataFrame:
        return self.con.execute(f"select * from {_quoted(schema)}.{_quoted(table)}").df()

    def replace(self, schema: str, table: str, frame: pd.DataFrame) -> None:
        self.con.execute(f"create schema if not exists {_quoted(schema)}")
        self.con.register("_io_manager_frame", frame)
        try:
            self.con.execute(
                f"create or replace table {_quoted(schema)}.{_quoted(table)} as select * from _io_manager_frame"
            )
        finally:
            self.con.unregister("_io_manager_frame")

    def describe(self, schema: str, table: str, preview_rows: int = PREVIEW_ROWS) -> dict:
        name = f"{_quoted(schema)}.{_quoted(table)}"
        rows = self.con.execute(f"select count(*) from {name}").fetchall()[0][0]
        preview = self.con.execute(f"select * from {name} limit {int(preview_rows)}").df()
        return {
            "dagster/row_count": dg.MetadataValue.int(int(rows)),
            "preview": dg.MetadataValue.md(markdown_table(preview)),
        }


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Stores asset `[schema, table]` as the warehouse table schema.table (pandas DataFrames)."""

    warehouse: Warehouse
    preview_rows: int = PREVIEW_ROWS

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        schema, table = table_for(context.asset_key)
        if not isinstance(obj, pd.DataFrame):
            raise WarehouseTableError(
                f"asset {context.asset_key.to_user_string()} returned "
                f"{type(obj).__name__}, not a pandas DataFrame: nothing to store in "
                f"{schema}.{table}"
            )
        with self.warehouse.connect() as con:
            tables = DuckDBTables(con)
            tables.replace(schema, table, obj)
            metadata = tables.describe(schema, table, self.preview_rows)
        context.add_output_metadata({**metadata, "table": f"{schema}.{table}"})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        schema, table = table_for(context.asset_key)
        with self.warehouse.connect(read_only=True) as con:
            try:
                return DuckDBTables(con).read(schema, table)
            except duckdb.CatalogException:
                raise WarehouseTableError(
                    f"{schema}.{table} is not in the warehouse {self.warehouse.path}: materialize "
                    f"{context.asset_key.to_user_string()} first (run the whole cycle, or add its group "
                    f"to --groups)"
                ) from None
