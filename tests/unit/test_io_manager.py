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


def test_chunked_read_equals_one_whole_conversion(io_manager, warehouse):
    """The IO manager converts a table to pandas in chunks (bounded memory): the frame is `.df()`'s
    (rows, order, dtypes), with NULLs only in some chunks, a view with a join and an empty table."""
    n = 5 * 2048 * 64 + 77  # several chunks of READ_CHUNK_VECTORS vectors and a partial last one
    with duckdb.connect(warehouse.path) as con:
        con.execute("create schema staging")
        con.execute(
            f"""create table staging.t as select
                  (i * 7919) % {n} as k,
                  case when i > {n} - 100 then null else i end as late_null_int,
                  case when i < 100 then null else 'v' || i end as early_null_text,
                  case when i % 3 = 0 then null else i % 2 = 0 end as maybe_bool,
                  date '2025-01-01' + cast(i % 400 as integer) as d,
                  case when i = 5 then null else i / 7.0 end as x,
                  case when i > 2048 * 64 then 'late' end as only_late_text,
                  case when i > {n} - 100 then null else i % 2 = 0 end as late_null_bool
                from range({n}) r(i) order by i % 97, i"""
        )
        con.execute("create table staging.m as select i as k, 'm' || i as name from range(1000) r(i)")
        con.execute("create view staging.v as select t.*, m.name from staging.t t left join staging.m m using (k)")
        con.execute("create table staging.empty as select * from staging.t where false")
        con.execute("set threads = 1")
        expected = {name: con.execute(f"select * from staging.{name}").df() for name in ("t", "v", "empty")}
    for name, frame in expected.items():
        got = io_manager.load_input(dg.build_input_context(asset_key=dg.AssetKey(["staging", name])))
        pd.testing.assert_frame_equal(got, frame)
        assert len(got) == (0 if name == "empty" else n)


def test_an_input_with_columns_metadata_reads_only_those(io_manager, warehouse):
    key = dg.AssetKey(["analytics", "wide"])
    io_manager.handle_output(
        dg.build_output_context(asset_key=key), pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [0.5, 1.5]})
    )
    back = io_manager.load_input(dg.build_input_context(asset_key=key, definition_metadata={"columns": ["c", "a"]}))
    assert list(back.columns) == ["c", "a"] and back.c.tolist() == [0.5, 1.5] and back.a.tolist() == [1, 2]


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


# --------------------------------------------------------------------------- history is the partitions


def _set_cycle(warehouse: Warehouse, cycle: str, partition_key: str | None) -> None:
    """meta.cycle as the meta/cycle asset writes it (one row: this run's cycle)."""
    with duckdb.connect(warehouse.path) as con:
        con.execute("create schema if not exists meta")
        con.execute(
            "create or replace table meta.cycle as select ?::date as cycle_id, ?::date as as_of, ?::varchar as "
            "partition_key",
            [cycle, cycle, partition_key],
        )


def _history_context(key, history: str, partition_key: str | None):
    from sop_pipeline.partitions import CYCLE_PARTITIONS

    return dg.build_output_context(
        asset_key=dg.AssetKey(key),
        definition_metadata={"sop/history": history},
        partition_key=partition_key,
        asset_partitions_def=CYCLE_PARTITIONS if partition_key else None,
    )


def _plan(cycle: str, units: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"cycle_id": [dt.date.fromisoformat(cycle)] * len(units), "sku": list("AB")[: len(units)], "units": units}
    )


def test_a_history_output_replaces_its_cycle_and_keeps_the_others(io_manager, warehouse):
    key = ["history", "plan_of_record"]
    _set_cycle(warehouse, "2026-11-15", "2026-11-09")
    io_manager.handle_output(_history_context(key, "history.plan_of_record", "2026-11-09"), _plan("2026-11-15", [1.0]))
    _set_cycle(warehouse, "2026-11-22", "2026-11-16")
    io_manager.handle_output(_history_context(key, "history.plan_of_record", "2026-11-16"), _plan("2026-11-22", [2, 3]))
    context = _history_context(key, "history.plan_of_record", "2026-11-16")  # a re-run of the cycle
    io_manager.handle_output(context, _plan("2026-11-22", [4.0, 6.0]).assign(margin=0.5))  # with a new column
    with duckdb.connect(warehouse.path, read_only=True) as con:
        rows = con.execute("select cycle_id::varchar, sku, units, margin from history.plan_of_record order by all")
        assert rows.fetchall() == [
            ("2026-11-15", "A", 1.0, None),
            ("2026-11-22", "A", 4.0, 0.5),
            ("2026-11-22", "B", 6.0, 0.5),
        ]
    meta = {k: getattr(v, "value", v) for k, v in context.get_logged_metadata().items()}
    assert meta["cycle"] == "2026-11-22" and meta["cycles_stored"] == 2 and meta["rows_this_cycle"] == 2
    assert meta["dagster/row_count"] == 3 and meta["history_table"] == "history.plan_of_record"


def test_an_output_with_a_history_table_elsewhere_replaces_its_own_table_and_keeps_a_copy(io_manager, warehouse):
    key = ["analytics", "decision_log"]
    for cycle, part, n in (("2026-11-15", "2026-11-09", 1), ("2026-11-22", "2026-11-16", 2)):
        _set_cycle(warehouse, cycle, part)
        io_manager.handle_output(_history_context(key, "history.decision_log", part), _plan(cycle, [1.0] * n))
    with duckdb.connect(warehouse.path, read_only=True) as con:
        assert con.execute("select count(*), min(cycle_id)::varchar from analytics.decision_log").fetchone() == (
            2,
            "2026-11-22",
        )
        by_cycle = con.execute("select cycle_id::varchar, count(*) from history.decision_log group by 1 order by 1")
        assert by_cycle.fetchall() == [("2026-11-15", 1), ("2026-11-22", 2)]


def test_a_history_output_of_another_cycle_or_partition_is_refused_and_nothing_changes(io_manager, warehouse):
    key = ["history", "plan_of_record"]
    _set_cycle(warehouse, "2026-11-22", "2026-11-16")
    io_manager.handle_output(_history_context(key, "history.plan_of_record", "2026-11-16"), _plan("2026-11-22", [1.0]))
    with pytest.raises(WarehouseTableError, match="rows of cycle\\(s\\) 2026-11-15 in an output of cycle 2026-11-22"):
        io_manager.handle_output(
            _history_context(key, "history.plan_of_record", "2026-11-16"), _plan("2026-11-15", [9.0])
        )
    with pytest.raises(WarehouseTableError, match="not in this run's partition 2026-11-09"):
        io_manager.handle_output(
            _history_context(key, "history.plan_of_record", "2026-11-09"), _plan("2026-11-22", [9.0])
        )
    with duckdb.connect(warehouse.path, read_only=True) as con:
        assert con.execute("select cycle_id::varchar, units from history.plan_of_record").fetchall() == [
            ("2026-11-22", 1.0)
        ]
