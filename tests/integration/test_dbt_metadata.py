"""The dbt steps' Dagster events: every model's materialization carries its column schema, and a
table's its row count, both read from the warehouse after dbt has exited, in both steps of a run
(the second reuses the first's dbt adapter); every dbt test is one check result. Real Dagster, dbt
and DuckDB: both dbt steps re-run, in one run, on a copy of the session cycle's warehouse."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import dagster as dg
import duckdb
import pytest

from sop_pipeline.settings import DBT_PROJECT_DIR, Settings, dbt_executable


@pytest.fixture(scope="module")
def dbt_run(small_cycle, tmp_path_factory):
    from sop_pipeline.assets.dbt import sop_dbt_marts, sop_dbt_staging
    from sop_pipeline.definitions import resources_for

    data = tmp_path_factory.mktemp("dbt_metadata") / "data"
    data.mkdir()
    shutil.copy(small_cycle.warehouse, data / "warehouse.duckdb")
    settings = Settings.from_env({}, extracts_dir=small_cycle.extracts, data_dir=data)
    resources = resources_for(settings)
    result = dg.materialize([sop_dbt_staging, sop_dbt_marts], resources=resources, raise_on_error=False)
    assert result.success, [e.step_failure_data.error for e in result.all_events if e.is_step_failure]
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    return result, settings.warehouse_path, manifest


def _nodes_by_key(manifest) -> dict[str, dict]:
    return {f"{n['fqn'][1]}/{n['name']}": n for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def test_every_model_reports_its_columns_and_every_table_its_row_count(dbt_run):
    result, warehouse, manifest = dbt_run
    nodes = _nodes_by_key(manifest)
    events = result.get_asset_materialization_events()
    assert {e.asset_key.to_user_string() for e in events} == set(nodes)
    tables = 0
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for event in events:
            key = event.asset_key.to_user_string()
            node, meta = nodes[key], event.materialization.metadata
            relation = f'"{node["schema"]}"."{node["alias"]}"'
            described = con.execute(f"describe {relation}").fetchall()
            schema = meta["dagster/column_schema"].value
            # names as in the warehouse; types as dbt's adapter spells them (VARCHAR: character varying(256))
            assert [c.name for c in schema.columns] == [r[0] for r in described], key
            assert all(c.type for c in schema.columns), key
            if node["config"]["materialized"] == "table":
                tables += 1
                count = con.execute(f"select count(*) from {relation}").fetchone()[0]
                assert meta["dagster/row_count"].value == count, key
            else:  # dagster-dbt does not run a view's query to count it
                assert "dagster/row_count" not in meta, key
    assert tables >= 50 and any(k.startswith("marts/") for k in nodes)


def test_every_dbt_test_is_one_check_result_without_table_metadata(dbt_run):
    result, _, manifest = dbt_run
    evaluations = result.get_asset_check_evaluations()
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    assert len(evaluations) >= 300 and len(evaluations) <= len(tests)
    assert all(e.passed for e in evaluations)
    assert not [e for e in evaluations if "dagster/column_schema" in e.metadata or "dagster/row_count" in e.metadata]


def test_the_dbt_resource_knows_the_version_dbt_reports_without_asking_it():
    from sop_pipeline.assets.dbt import dbt_resource

    out = subprocess.run([dbt_executable(), "--version"], capture_output=True, text=True, check=True).stdout
    assert str(dbt_resource()._cli_version) == re.search(r"(\d+\.\d+\.\d+)", out).group(1)
