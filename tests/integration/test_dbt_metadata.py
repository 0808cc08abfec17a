"""The dbt steps' Dagster events: every model's materialization carries its column schema, and a
table's its row count, both read from the warehouse after dbt has exited (two queries per step on
the DuckDB file), in both steps of a run; every dbt test is one check result. Real Dagster, dbt
and DuckDB: both dbt steps re-run, in one run, on a copy of the session cycle's warehouse (without
meta/cycle, hence on dbt's CLI). And dbt's parse: a cycle's dbt steps run in the warm dbt server
without parsing, and the next cycle in the same data dir reuses its parse state (dbt's own JSON log
says whether it parsed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import dagster as dg
import duckdb
import pytest

from sop_pipeline.dbt_server import PARSE_DIR
from sop_pipeline.settings import DBT_PROJECT_DIR, Settings, dbt_executable
from tests.fixtures.dbt_build import PARSE_EVENTS


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
            # names and types as in the warehouse (DuckDB's type names), in the table's column order
            assert [(c.name, c.type) for c in schema.columns] == [(r[0], r[1]) for r in described], key
            if node["config"]["materialized"] == "table":
                tables += 1
                count = con.execute(f"select count(*) from {relation}").fetchone()[0]
                assert meta["dagster/row_count"].value == count, key
                assert meta["dagster/storage_kind"].value == "duckdb", key
            else:  # dagster-dbt does not run a view's query to count it
                assert "dagster/row_count" not in meta, key
    assert tables >= 50 and any(k.startswith("marts/") for k in nodes)


def test_every_dbt_test_is_one_check_result_without_table_metadata(dbt_run):
    result, _, manifest = dbt_run
    evaluations = result.get_asset_check_evaluations()
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    assert len(tests) >= len(evaluations) >= 100
    # a model's not-null, unique, accepted-values and key rules are one check (column_rules)
    rules = {e.check_name for e in evaluations if e.check_name.startswith("column_rules_")}
    assert len(rules) >= 80 and "column_rules_plan_of_record" in rules
    assert all(e.passed for e in evaluations)
    assert not [e for e in evaluations if "dagster/column_schema" in e.metadata or "dagster/row_count" in e.metadata]


def test_the_dbt_resource_knows_the_version_dbt_reports_without_asking_it():
    from sop_pipeline.assets.dbt import dbt_resource

    out = subprocess.run([dbt_executable(), "--version"], capture_output=True, text=True, check=True).stdout
    assert str(dbt_resource()._cli_version) == re.search(r"(\d+\.\d+\.\d+)", out).group(1)


def _last_invocation_events(step_dir) -> list[str]:
    """Names of dbt's JSON log events of the last invocation in a dbt target dir (rotated logs first)."""
    logs = sorted(step_dir.glob("dbt.log.*"), key=lambda p: -int(p.suffix[1:])) + [step_dir / "dbt.log"]
    names: list[str] = []
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            name = json.loads(line)["info"]["name"] if line.startswith("{") else None
            if name == "MainReportVersion":
                names = []
            if name:
                names.append(name)
    return names


def test_the_dbt_steps_of_a_cycle_run_in_the_warm_dbt_server_without_parsing(small_cycle):
    """The session's cycle (`sop run`, a new data dir): meta/cycle started the warm dbt server, which
    parsed the project with the cycle's vars while ingest ran; both dbt steps ran in it, from its
    manifest: their dbt logs have no parse event at all (dbt's CLI always logs its state check)."""
    root = Settings.from_env({}, extracts_dir=small_cycle.extracts, data_dir=small_cycle.data).dbt_target_dir
    parse = _last_invocation_events(root / PARSE_DIR)
    assert "UnableToPartialParse" in parse or "PartialParsingSkipParsing" in parse, sorted(set(parse))
    for step in ("sop_dbt_staging", "sop_dbt_marts"):
        events = _last_invocation_events(root / step)
        assert "CommandCompleted" in events, step
        assert not PARSE_EVENTS & set(events), (step, sorted(PARSE_EVENTS & set(events)))


def test_the_next_cycle_in_the_same_data_dir_reuses_the_parse(small_cycle, tmp_path):
    """dbt reuses a data dir's parse state for the next cycle: `dbt parse` with the vars every dbt
    step of a cycle passes, on a copy of the warm server's parse dir (where the next cycle's server
    parses, and where a dbt step that runs dbt's CLI takes its state from)."""
    from sop_pipeline.assets.dbt import _vars_arg

    settings = Settings.from_env({}, extracts_dir=small_cycle.extracts, data_dir=small_cycle.data)
    target = tmp_path / "target"
    shutil.copytree(settings.dbt_target_dir / PARSE_DIR, target)
    proc = subprocess.run(
        [dbt_executable(), "parse", "--vars", _vars_arg(settings), "--project-dir", str(DBT_PROJECT_DIR)]
        + ["--profiles-dir", str(DBT_PROJECT_DIR)],
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(target), "DBT_LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    events = _last_invocation_events(target)  # dbt.log has the debug-level events
    assert "PartialParsingSkipParsing" in events and "UnableToPartialParse" not in events, sorted(set(events))
