"""The code location loads, and every asset is something a data engineer can work with."""

from __future__ import annotations


import dagster as dg
import pytest

from sop_pipeline.cli import ensure_dbt_manifest


@pytest.fixture(scope="module")
def defs():
    ensure_dbt_manifest()
    from sop_pipeline.definitions import defs

    return defs


def test_definitions_load_with_job_schedule_and_in_process_executor(defs):
    job = defs.resolve_job_def("sop_cycle")
    assert job.executor_def.name == "in_process"
    schedule = defs.resolve_schedule_def("weekly_sop_cycle")
    assert schedule.cron_schedule == "0 6 * * 1"


def test_a_postgres_warehouse_gets_the_multiprocess_executor():
    from sop_pipeline.definitions import executor_for, multiprocess_run_config
    from sop_pipeline.settings import Settings

    assert executor_for(Settings.from_env({})).name == "in_process"  # DuckDB: one writer
    pg = Settings.from_env({"SOP_WAREHOUSE": "postgresql://u@h:5432/db"})
    assert executor_for(pg).name == "multi_or_in_process_executor"
    config = multiprocess_run_config(2)["execution"]["config"]["multiprocess"]
    assert config["max_concurrent"] == 2 and "sop_pipeline.definitions" in str(config["start_method"])


def test_the_heavy_analytics_fan_out_per_resource_or_family(defs):
    graph = defs.resolve_asset_graph()
    fanned = ("changeover_estimate", "production_sequence", "demand_backtest", "demand_forecast", "safety_stock")
    for key in (["analytics", name] for name in fanned):
        node_def = graph.get(dg.AssetKey(key)).assets_def.node_def
        assert isinstance(node_def, dg.GraphDefinition), key
        assert any(op.name.endswith("__part") for op in node_def.iterate_op_defs()), key


def test_every_materializable_asset_has_description_group_and_owner(defs):
    graph = defs.resolve_asset_graph()
    missing = []
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        if not node.description or not node.group_name or node.group_name == "default" or not node.owners:
            missing.append(key.to_user_string())
    assert not missing, f"assets without description/group/owner: {missing}"


def test_every_warehouse_writer_shares_the_duckdb_pool(defs):
    from sop_pipeline.resources import WAREHOUSE_POOL

    from sop_pipeline.assets.common import WAREHOUSE_IO

    pools = {}
    for assets_def in defs.assets or []:
        if isinstance(assets_def, dg.AssetsDefinition) and assets_def.is_executable:
            if isinstance(assets_def.node_def, dg.GraphDefinition):  # a fan-out (assets/fanout.py)
                for op in assets_def.node_def.iterate_op_defs():
                    reads = any(i.input_manager_key == WAREHOUSE_IO for i in op.input_defs)
                    writes = any(o.io_manager_key == WAREHOUSE_IO for o in op.output_defs)
                    if reads or writes:  # the split and combine ops; the parts (and the sequence's
                        pools[op.name] = op.pool  # synchronized timetable, between parts and combine) compute
                    else:
                        assert op.name.endswith(("__part", "__synchronize")), (
                            f"{op.name}: neither a warehouse op nor a compute step"
                        )
                continue
            pools[assets_def.node_def.name] = assets_def.node_def.pool
    without = sorted(
        name for name, pool in pools.items() if pool != WAREHOUSE_POOL and name != "reports__meeting_pack"
    )  # reads the serving file only
    assert not without, f"steps that could write the warehouse outside the pool: {without}"


def test_lineage_runs_extracts_to_raw_to_staging(defs):
    graph = defs.resolve_asset_graph()
    raw = dg.AssetKey(["raw", "pos_sales"])
    assert dg.AssetKey(["extracts", "pos_sales"]) in graph.get(raw).parent_keys
    assert raw in graph.get(dg.AssetKey(["staging", "stg_pos__pos_sales"])).parent_keys
