"""The cycle's shape around dbt: two dbt steps (staging + intermediate, then the marts), every
model in exactly one of them, every dbt test (relationships included) selected by the step that
builds its models, no mart feeding Python that feeds a mart, and no environment writes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.api import create_execution_plan

from sop_pipeline.cli import ensure_dbt_manifest
from sop_pipeline.settings import DBT_PROJECT_DIR, REPO_ROOT, dbt_executable


@pytest.fixture(scope="module")
def defs():
    ensure_dbt_manifest()
    from sop_pipeline.definitions import defs

    return defs


@pytest.fixture(scope="module")
def manifest():
    ensure_dbt_manifest()
    return json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())


def _dbt_step_keys(job) -> list[str]:
    plan = create_execution_plan(job)
    # all steps: those after a fan-out (assets/fanout.py) wait on its dynamic outputs, so they are not
    # "to execute" in the static plan
    return [s.key for s in plan.get_all_steps_in_topo_order() if "dbt" in s.key]


def test_the_cycle_runs_dbt_at_most_three_times(defs):
    steps = _dbt_step_keys(defs.resolve_job_def("sop_cycle"))
    assert len(steps) <= 3, f"dbt runs {len(steps)} times per cycle: {steps}"
    assert steps == ["sop_dbt_staging", "sop_dbt_marts"]


def test_every_model_is_built_by_exactly_one_dbt_step_with_the_keys_of_its_folder(manifest):
    from sop_pipeline.assets.dbt import sop_dbt_marts, sop_dbt_staging

    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    staging = {k.to_user_string() for k in sop_dbt_staging.keys}
    marts = {k.to_user_string() for k in sop_dbt_marts.keys}
    assert not staging & marts
    for node in models:
        folder = node["fqn"][1]
        key = f"{folder}/{node['name']}"
        assert key in (marts if folder == "marts" else staging), f"{key} is in the wrong dbt step"
    assert len(staging) + len(marts) == len(models)
    assert "marts/plan_of_record" in marts and "staging/stg_erp__items" in staging


def test_no_mart_feeds_python_that_feeds_a_mart(defs):
    from sop_pipeline.assets.dbt import DBT_KEYS

    graph = defs.resolve_asset_graph()
    marts = {k for k in DBT_KEYS if k.path[0] == "marts"}
    offenders = []
    for key in graph.materializable_asset_keys - DBT_KEYS:
        if graph.get(key).parent_keys & marts and _descendants(graph, key) & marts:
            offenders.append(key.to_user_string())
    assert not offenders, f"Python assets between two marts: {offenders}"
    reconciliation = graph.get(dg.AssetKey(["analytics", "plan_reconciliation"]))
    assert not reconciliation.parent_keys & marts


def _descendants(graph, key) -> set:
    seen, todo = set(), [key]
    while todo:
        for child in graph.get(todo.pop()).child_keys:
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def _dbt_ls_tests(select: str, target: Path) -> set[str]:
    # dbt writes its manifest to the target path: never dbt_project/target, which every `sop run`
    # and the other test processes read (its partial-parse state is copied to start warm)
    target.mkdir(parents=True, exist_ok=True)
    if (DBT_PROJECT_DIR / "target" / "partial_parse.msgpack").exists():
        shutil.copy(DBT_PROJECT_DIR / "target" / "partial_parse.msgpack", target / "partial_parse.msgpack")
    proc = subprocess.run(
        [
            dbt_executable(),
            "ls",
            "--resource-type",
            "test",
            "--select",
            *select.split(),
            "--indirect-selection",
            "buildable",
            "--output",
            "json",
            "--output-keys",
            "unique_id",
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target),
            "--quiet",
        ],
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return {json.loads(line)["unique_id"] for line in proc.stdout.splitlines() if line.startswith("{")}


def test_every_dbt_test_runs_in_the_step_that_builds_its_models(manifest, tmp_path):
    """`dbt build --indirect-selection buildable` (what each step runs) selects every test of the
    project once: a relationships test from a mart to a staging model runs with the marts."""
    from sop_pipeline.assets.dbt import MARTS_SELECT, STAGING_SELECT

    tests = {uid for uid, n in manifest["nodes"].items() if n["resource_type"] == "test"}
    staging, marts = _dbt_ls_tests(STAGING_SELECT, tmp_path / "ls"), _dbt_ls_tests(MARTS_SELECT, tmp_path / "ls")
    assert staging | marts == tests, f"tests no step runs: {sorted(tests - staging - marts)[:10]}"
    assert not staging & marts, f"tests run twice: {sorted(staging & marts)[:10]}"
    relationships = {uid for uid in tests if ".relationships_" in uid}
    assert len(relationships) >= 10
    mart_rel = {uid for uid in relationships if "datapack_abc_xyz" in uid}
    assert mart_rel and mart_rel <= marts


def test_dbt_steps_get_the_warehouse_as_a_var_and_a_target_dir_under_the_data_dir(tmp_path):
    from sop_pipeline.settings import Settings

    s = Settings.from_env({}, extracts_dir=tmp_path / "x", data_dir=tmp_path / "d")
    assert s.dbt_target_dir == tmp_path / "d" / "dbt" / "target"
    assert s.dbt_vars() == {"warehouse_path": str(tmp_path / "d" / "warehouse.duckdb")}
    profile = (DBT_PROJECT_DIR / "profiles.yml").read_text()
    assert "var('warehouse_path'" in profile


ENV_WRITE = re.compile(
    r"os\.environ\s*(\[[^\]]*\]\s*=(?!=)|\.(update|setdefault|pop|popitem|clear)\s*\()"
    r"|\bos\.(putenv|unsetenv)\s*\(|^\s*del\s+os\.environ"
)


def test_no_module_of_the_package_writes_the_environment():
    offenders = []
    for path in sorted((REPO_ROOT / "sop_pipeline").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if ENV_WRITE.search(line):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert not offenders, "os.environ is written to:\n" + "\n".join(offenders)


def test_the_environment_write_pattern_catches_what_it_should():
    for line in (
        'os.environ["X"] = "1"',
        "os.environ.update(env)",
        "os.environ.setdefault('A', 'b')",
        "os.environ.pop('A', None)",
        "os.putenv('A', 'b')",
        "del os.environ['A']",
    ):
        assert ENV_WRITE.search(line), line
    for line in ("os.environ.get('A')", "env = {**os.environ}", "if os.environ['A'] == 'b':"):
        assert not ENV_WRITE.search(line), line
