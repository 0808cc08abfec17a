"""The warehouse IO manager on PostgreSQL (a `Warehouse` with a `dsn`), on a real private server:
real Dagster materializations read and write PostgreSQL tables, and the same sequence of outputs
(whole tables, one cycle of a history table) leaves the same tables, read back the same way and
with the same metadata, as on DuckDB."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from sop_pipeline.io_manager import WarehouseIOManager, WarehouseTableError, warehouse_tables
from sop_pipeline.resources import Warehouse

pytestmark = pytest.mark.integration


@pytest.fixture
def engines(postgres_server, tmp_path, request) -> dict[str, Warehouse]:
    dsn = postgres_server.create_database(f"io_{request.node.name[:40].lower()}")
    return {
        "duckdb": Warehouse(path=str(tmp_path / "duck" / "warehouse.duckdb"), lock_timeout_seconds=2.0),
        "postgres": Warehouse(path=str(tmp_path / "unused" / "warehouse.duckdb"), dsn=dsn),
    }


def test_assets_materialize_through_the_io_manager_on_postgres(engines, tmp_path):
    warehouse = engines["postgres"]

    @dg.asset(key=["analytics", "upstream"], io_manager_key="warehouse_io_manager")
    def upstream() -> pd.DataFrame:
        return pd.DataFrame({"sku": ["A", "B"], "units": [1.0, 2.0], "week": [dt.date(2026, 1, 5)] * 2})

    @dg.asset(
        key=["analytics", "downstream"],
        io_manager_key="warehouse_io_manager",
        ins={"upstream": dg.AssetIn(key=["analytics", "upstream"], input_manager_key="warehouse_io_manager")},
    )
    def downstream(upstream: pd.DataFrame) -> pd.DataFrame:
        assert str(upstream["week"].dtype) == "datetime64[us]"  # as DuckDB gives a DATE column
        return upstream.assign(units=upstream.units * 2)

    result = dg.materialize(
        [upstream, downstream], resources={"warehouse_io_manager": WarehouseIOManager(warehouse=warehouse)}
    )
    assert result.success
    with warehouse_tables(warehouse, read_only=True) as tables:
        assert tables.read("analytics", "downstream").sort_values("sku")["units"].tolist() == [2.0, 4.0]
    metadata = result.asset_materializations_for_node("analytics__downstream")[0].metadata
    assert metadata["dagster/row_count"].value == 2 and metadata["table"].value == "analytics.downstream"
    assert not (tmp_path / "unused").exists()  # nothing went to the DuckDB file


def _set_cycle(warehouse: Warehouse, cycle: str, partition_key: str) -> None:
    frame = pd.DataFrame(
        {
            "cycle_id": [dt.date.fromisoformat(cycle)],
            "as_of": [dt.date.fromisoformat(cycle)],
            "partition_key": [partition_key],
        }
    )
    with warehouse_tables(warehouse) as tables:
        tables.replace("meta", "cycle", frame)


def _history_context(key, history: str, partition_key: str):
    from sop_pipeline.partitions import CYCLE_PARTITIONS

    return dg.build_output_context(
        asset_key=dg.AssetKey(key),
        definition_metadata={"sop/history": history},
        partition_key=partition_key,
        asset_partitions_def=CYCLE_PARTITIONS,
    )


def _plan(cycle: str, units: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"cycle_id": [dt.date.fromisoformat(cycle)] * len(units), "sku": list("AB")[: len(units)], "units": units}
    )


def _cycles_of_outputs(warehouse: Warehouse) -> tuple[dict, dict]:
    """Three cycles of outputs (a re-run with a new column, a table with a history copy elsewhere);
    returns the tables read back and the logged metadata of the last output."""
    io = WarehouseIOManager(warehouse=warehouse)
    steps = [("2026-11-15", "2026-11-09", [1.0]), ("2026-11-22", "2026-11-16", [2.0, 3.0])]
    for cycle, part, units in steps:
        _set_cycle(warehouse, cycle, part)
        io.handle_output(
            _history_context(["history", "plan_of_record"], "history.plan_of_record", part), _plan(cycle, units)
        )
        io.handle_output(
            _history_context(["analytics", "decision_log"], "history.decision_log", part), _plan(cycle, units)
        )
    rerun = _history_context(["history", "plan_of_record"], "history.plan_of_record", "2026-11-16")
    io.handle_output(rerun, _plan("2026-11-22", [4.0, 6.0]).assign(margin=0.5))
    with pytest.raises(WarehouseTableError, match=r"rows of cycle\(s\) 2026-11-15 in an output of cycle 2026-11-22"):
        io.handle_output(
            _history_context(["history", "plan_of_record"], "history.plan_of_record", "2026-11-16"),
            _plan("2026-11-15", [9.0]),
        )
    tables = {}
    for schema, table in (("history", "plan_of_record"), ("history", "decision_log"), ("analytics", "decision_log")):
        frame = io.load_input(dg.build_input_context(asset_key=dg.AssetKey([schema, table])))
        tables[f"{schema}.{table}"] = frame.sort_values(["cycle_id", "sku"], ignore_index=True)
    metadata = {k: getattr(v, "value", v) for k, v in rerun.get_logged_metadata().items()}
    return tables, metadata


def test_the_io_manager_leaves_the_same_tables_on_postgres_as_on_duckdb(engines):
    duck_tables, duck_meta = _cycles_of_outputs(engines["duckdb"])
    pg_tables, pg_meta = _cycles_of_outputs(engines["postgres"])
    assert duck_tables["history.plan_of_record"]["units"].tolist() == [1.0, 4.0, 6.0]  # the re-run replaced
    assert len(duck_tables["analytics.decision_log"]) == 2 and len(duck_tables["history.decision_log"]) == 3
    for name, frame in duck_tables.items():
        pd.testing.assert_frame_equal(pg_tables[name], frame, obj=name)
    assert pg_meta == duck_meta
    assert pg_meta["cycles_stored"] == 2 and pg_meta["dagster/row_count"] == 3


def test_a_missing_table_on_postgres_names_the_table_and_the_server_without_its_password(engines):
    server = engines["postgres"].dsn
    warehouse = Warehouse(path=engines["postgres"].path, dsn=server.replace("postgres@", "postgres:pw@"))
    io = WarehouseIOManager(warehouse=warehouse)
    with pytest.raises(WarehouseTableError) as err:
        io.load_input(dg.build_input_context(asset_key=dg.AssetKey(["analytics", "nothing_here"])))
    message = str(err.value)
    assert message.startswith("analytics.nothing_here is not in the warehouse postgresql://postgres:***@127.0.0.1:")
    assert "pw" not in message and "\n" not in message
