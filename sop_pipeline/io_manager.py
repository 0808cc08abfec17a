"""The warehouse IO manager: Python assets take DataFrames in and return DataFrames; this moves them.

The pattern of `dagster-duckdb-pandas`: an asset key `[schema, table]` is the warehouse table
`schema.table` (dbt models are `staging/x`, `intermediate/x`, `marts/x`; Python outputs
`analytics/x`). `load_input` reads the whole table (in chunks, `DuckDBTables.read`; only the
columns an input's `columns` metadata lists, when it has one), `handle_output` replaces it and attaches the
row count and a preview. Each call opens its own short-lived connection through the `Warehouse`
resource (its lock wait and its one DuckDB thread, which keeps float aggregates bit-identical
from run to run) and closes it before returning: no connection is held while an asset computes.
In an in-process run (`sop run`) the connection is a cursor of the database the process keeps
open between steps (`sop_pipeline.warehouse_engines.duckdb_hold`): the file is opened once, not
for every input and output.

History is the partitions: an output whose definition metadata has `sop/history` (`HISTORY_KEY`)
= "schema.table" keeps one copy of each cycle in that table: `handle_output` replaces the rows of
this run's cycle (its `cycle_id` = the as-of of meta.cycle's one row) and keeps every other cycle's. When the
history table is the output's own table (`history/plan_of_record`, `analytics/forecast_history`),
that is all it writes; otherwise the output's own table is replaced whole as usual and the copy goes
to the history table too (`analytics/decision_log` -> `history.decision_log`). The frame's cycle_id
must be the run's cycle, and in a partitioned run the cycle must lie in the run's partition (the
ISO week): a frame of another cycle is refused with one line, never stored under the wrong cycle.

Everything engine-specific is in `sop_pipeline.warehouse_engines`: `DuckDBTables` (read, replace,
replace_rows, describe, cycles, ...) and `PostgresTables`, the same methods on PostgreSQL;
`Warehouse.tables()` picks one: PostgreSQL when the `Warehouse` resource has a `dsn` (SOP_WAREHOUSE),
else DuckDB.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import dagster as dg
import duckdb
import pandas as pd

# HISTORY_KEY: output definition metadata "schema.table" keeping one copy per cycle (warehouse_asset(history=))
from sop_pipeline.assets.common import HISTORY_KEY
from sop_pipeline.resources import Warehouse
from sop_pipeline.warehouse_engines import postgres
from sop_pipeline.warehouse_engines.duckdb_tables import CYCLE_COLUMN, PREVIEW_ROWS, DuckDBTables

__all__ = ["CYCLE_COLUMN", "PREVIEW_ROWS", "DuckDBTables", "WarehouseIOManager", "warehouse_tables"]
# what each engine raises when a table is not there
MISSING_TABLE = (duckdb.CatalogException, postgres.MissingTable)


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


def history_table(context: dg.OutputContext) -> tuple[str, str] | None:
    """The (schema, table) an output keeps one copy per cycle in (its `sop/history` metadata), or None."""
    value = (context.definition_metadata or {}).get(HISTORY_KEY)
    if value is None:
        return None
    text = getattr(value, "value", value)
    parts = str(text).split(".")
    if len(parts) != 2 or not all(parts):
        raise WarehouseTableError(
            f"asset {context.asset_key.to_user_string()}: {HISTORY_KEY} must name a table as schema.table, got {text!r}"
        )
    return parts[0], parts[1]


@contextmanager
def warehouse_tables(
    warehouse: Warehouse, read_only: bool = False
) -> Iterator["DuckDBTables | postgres.PostgresTables"]:
    """The table operations of the warehouse's engine on a short-lived connection (`Warehouse.tables`):
    `DuckDBTables` on the DuckDB file, or `PostgresTables` on the PostgreSQL database of `warehouse.dsn`
    (one transaction, committed when the block ends without an error, else rolled back)."""
    with warehouse.tables(read_only=read_only) as tables:
        yield tables


def _columns(context: dg.InputContext) -> list[str] | None:
    """The columns an input asks for (`dg.AssetIn(metadata={"columns": [...]})`, as in
    dagster-duckdb), or None for all: an asset that needs a few columns of a large table reads
    only those."""
    value = (context.definition_metadata or {}).get("columns")
    value = getattr(value, "value", value)
    return [str(c) for c in value] if value else None


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Stores asset `[schema, table]` as the warehouse table schema.table (pandas DataFrames); an output
    with `sop/history` metadata keeps this cycle's copy in its history table (see the module doc)."""

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
        history = history_table(context)
        with warehouse_tables(self.warehouse) as tables:
            extra = {}
            if history is not None:
                cycle = self._cycle(context, tables, obj, f"{history[0]}.{history[1]}")
                if history != (schema, table):
                    tables.replace(schema, table, obj)
                tables.replace_rows(*history, obj, CYCLE_COLUMN, cycle)
                cycles, rows = tables.cycles(*history)
                extra = {
                    "history_table": f"{history[0]}.{history[1]}",
                    "cycle": str(cycle),
                    "cycles_stored": cycles,
                    "rows_this_cycle": len(obj),
                }
                if history == (schema, table):
                    extra["dagster/row_count"] = dg.MetadataValue.int(rows)
            else:
                tables.replace(schema, table, obj)
            metadata = tables.describe(schema, table, self.preview_rows)
        context.add_output_metadata({**metadata, **extra, "table": f"{schema}.{table}"})

    def _cycle(self, context: dg.OutputContext, tables, frame: pd.DataFrame, target: str):
        """This run's cycle (meta.cycle's cycle_id), checked against the frame and the run's partition."""
        name = context.asset_key.to_user_string()
        try:
            meta = tables.read("meta", "cycle")
        except MISSING_TABLE:
            meta = pd.DataFrame()
        if len(meta) != 1:
            raise WarehouseTableError(
                f"{name}: cannot keep this cycle's copy in {target}: meta.cycle has {len(meta)} rows, not the "
                "cycle's one (materialize meta/cycle first)"
            )
        cycle = pd.Timestamp(meta["as_of"].iloc[0]).date()  # the cycle's id is its as-of date
        if CYCLE_COLUMN not in frame.columns:
            raise WarehouseTableError(f"{name}: no {CYCLE_COLUMN} column to keep one copy per cycle in {target}")
        others = sorted({str(pd.Timestamp(c).date()) for c in frame[CYCLE_COLUMN].dropna()} - {str(cycle)})
        if others or frame[CYCLE_COLUMN].isna().any():
            raise WarehouseTableError(
                f"{name}: rows of cycle(s) {', '.join(others) or 'NULL'} in an output of cycle {cycle}; "
                f"not stored in {target}"
            )
        if context.has_asset_partitions:
            window = context.asset_partitions_time_window
            first, end = window.start.date(), window.end.date()
            if not first <= cycle < end:
                raise WarehouseTableError(
                    f"{name}: the cycle in meta.cycle ({cycle}) is not in this run's partition "
                    f"{context.asset_partition_key} ({first} .. {end - pd.Timedelta(days=1)}); not stored in {target}"
                )
        return cycle

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        schema, table = table_for(context.asset_key)
        with warehouse_tables(self.warehouse, read_only=True) as tables:
            try:
                return tables.read(schema, table, columns=_columns(context))
            except MISSING_TABLE:
                raise WarehouseTableError(
                    f"{schema}.{table} is not in the warehouse {self.warehouse.location}: materialize "
                    f"{context.asset_key.to_user_string()} first (run the whole cycle, or add its group "
                    f"to --groups)"
                ) from None
