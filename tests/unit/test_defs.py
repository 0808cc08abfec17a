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

    pools = {}
    for assets_def in defs.assets or []:
        if isinstance(assets_def, dg.AssetsDefinition) and assets_def.is_executable:
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
