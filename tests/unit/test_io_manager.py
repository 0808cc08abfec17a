"""The warehouse IO manager on a real DuckDB file: key <-> table, round trip, metadata, no held connection."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import duckdb
import pandas as pd
import pytest

from sop_pipeline.io_manager import WarehouseIOManager, WarehouseTableError, table_for
from sop_pipeline.resources import Warehouse


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    return Warehouse(path=str(tmp_path / "warehouse.duckdb"), lock_timeout_seconds=2.0)


@pytest.fixture
def io_manager(warehouse) -> WarehouseIOManager:
    return WarehouseIOManager(warehouse=warehouse)


def test_asset_key_is_schema_and_table():
    assert table_for(dg.AssetKey(["analytics", "abc_xyz"])) == ("analytics", "abc_xyz")
    assert table_for(dg.AssetKey(["staging", "stg_erp__items"])) == ("staging", "stg_erp__items")
    with pytest.raises(WarehouseTableError, match="schema, table"):
        table_for(dg.AssetKey(["abc_xyz"]))


def test_output_written_as_table_with_types_and_metadata(io_manager, warehouse):
    frame = pd.DataFrame(
        {
            "sku": ["A", "B"],
            "units": [1, 2],
            "revenue": [1.5, 2.25],
            "week_start": pd.to_datetime(["2026-01-05", "2026-01-12"]).date,
        }
    )
    context = dg.build_output_context(asset_key=dg.AssetKey(["analytics", "sales"]))
    io_manager.handle_output(context, frame)
    with duckdb.connect(warehouse.path, read_only=True) as con:
        kinds = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'analytics' and table_name = 'sales' order by ordinal_position"
        ).fetchall()
        rows = con.execute("select * from analytics.sales order by sku").fetchall()
    assert kinds == [("sku", "VARCHAR"), ("units", "BIGINT"), ("revenue", "DOUBLE"), ("week_start", "DATE")]
    assert rows == [("A", 1, 1.5, dt.date(2026, 1, 5)), ("B", 2, 2.25, dt.date(2026, 1, 12))]
    metadata = context.get_logged_metadata()
    assert metadata["dagster/row_count"] == dg.MetadataValue.int(2)
    assert "| sku | units | revenue | week_start |" in metadata["preview"].value


def test_output_replaces_the_table(io_manager, warehouse):
    key = dg.AssetKey(["analytics", "t"])
    io_manager.handle_output(dg.build_output_context(asset_key=key), pd.DataFrame({"a": [1, 2, 3]}))
    io_manager.handle_output(dg.build_output_context(asset_key=key), pd.DataFrame({"b": ["x"]}))
    with duckdb.connect(warehouse.path, read_only=True) as con:
        assert con.execute("select * from analytics.t").fetchall() == [("x",)]


def test_input_reads_the_table_and_holds_no_connection(io_manager, warehouse):
    with duckdb.connect(warehouse.path) as con:
        con.execute("create schema staging")
        con.execute(
            "create table staging.stg_erp__items as select 'SKU1' as sku, 2.5::double as unit_cost, "
            "date '2026-03-01' as since"
        )
    frame = io_manager.load_input(dg.build_input_context(asset_key=dg.AssetKey(["staging", "stg_erp__items"])))
    assert list(frame.columns) == ["sku", "unit_cost", "since"]
    assert frame.sku.tolist() == ["SKU1"] and frame.unit_cost.tolist() == [2.5]
    # the read connection is closed: another writer gets the file at once
    with duckdb.connect(warehouse.path) as con:
        con.execute("create table staging.other as select 1 as x")


def test_round_trip_keeps_column_order_and_values(io_manager):
    key = dg.AssetKey(["analytics", "round_trip"])
    frame = pd.DataFrame({"z": [3.0, None], "a": ["p", None], "flag": [True, False]})
    io_manager.handle_output(dg.build_output_context(asset_key=key), frame)
    back = io_manager.load_input(dg.build_input_context(asset_key=key))
    assert list(back.columns) == ["z", "a", "flag"]
    assert (
        back.z.iloc[0] == 3.0
        and pd.isna(back.z.iloc[1])
        and back.a.iloc[0] == "p"
        and back.flag.tolist() == [True, False]
    )


def test_output_that_is_not_a_frame_is_refused(io_manager):
    with pytest.raises(WarehouseTableError, match="not a pandas DataFrame"):
        io_manager.handle_output(dg.build_output_context(asset_key=dg.AssetKey(["analytics", "x"])), None)


def test_assets_materialize_through_the_io_manager(warehouse):
    @dg.asset(key=["analytics", "upstream"], io_manager_key="warehouse_io_manager")
    def upstream() -> pd.DataFrame:
        return pd.DataFrame({"sku": ["A", "B"], "units": [1.0, 2.0]})

    @dg.asset(
        key=["analytics", "downstream"],
        io_manager_key="warehouse_io_manager",
        ins={"upstream": dg.AssetIn(key=["analytics", "upstream"], input_manager_key="warehouse_io_manager")},
    )
    def downstream(upstream: pd.DataFrame) -> pd.DataFrame:
        return upstream.assign(units=upstream.units * 2)

    result = dg.materialize(
        [upstream, downstream], resources={"warehouse_io_manager": WarehouseIOManager(warehouse=warehouse)}
    )
    assert result.success
    with duckdb.connect(warehouse.path, read_only=True) as con:
        assert con.execute("select units from analytics.downstream order by sku").fetchall() == [(2.0,), (4.0,)]


def test_missing_table_names_the_table_and_what_to_run(io_manager, warehouse):
    with duckdb.connect(warehouse.path) as con:
        con.execute("create schema analytics")
    context = dg.build_input_context(asset_key=dg.AssetKey(["analytics", "finance_cash_projection"]))
    with pytest.raises(WarehouseTableError) as err:
        io_manager.load_input(context)
    message = str(err.value)
    assert "analytics.finance_cash_projection is not in the warehouse" in message
    assert warehouse.path in message and "materialize analytics/finance_cash_projection first" in message
