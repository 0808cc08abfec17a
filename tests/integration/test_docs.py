"""`make docs`: dbt docs generated from the small cycle's warehouse and served over HTTP (no mocks).

Runs the real Makefile target (`dbt docs generate` + `dbt docs serve --no-browser`) on a free port,
with its own dbt target path (so it cannot clash with the dbt runs of other tests, which use
dbt_project/target) and a copy of the session's warehouse (dbt opens it read-write; other tests
read the original). `-o setup` skips the venv install and `sop parse`, which write shared files.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.integration

START_TIMEOUT_S = 300  # dbt parses the whole project and builds the catalog before serving


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 10) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        assert resp.status == 200, url
        return resp.read()


def _yaml_description(path: str, model: str) -> str:
    doc = yaml.safe_load((REPO / path).read_text())
    return next(m["description"] for m in doc["models"] if m["name"] == model)


@pytest.fixture(scope="module")
def docs_server(small_cycle, tmp_path_factory):
    """`make docs` on a free port; yields its base URL and stops the whole process group after."""
    root = tmp_path_factory.mktemp("docs")
    data, target = root / "data", root / "target"
    data.mkdir()
    for suffix in ("", ".wal"):
        src = small_cycle.warehouse.with_name(small_cycle.warehouse.name + suffix)
        if src.exists():
            shutil.copy(src, data / src.name)
    port = _free_port()
    log = open(root / "make_docs.log", "w+")
    env = {k: v for k, v in os.environ.items() if k not in ("SOP_WAREHOUSE_PATH", "MAKEFLAGS", "MAKELEVEL")}
    proc = subprocess.Popen(
        ["make", "-o", "setup", "docs", f"DOCS_PORT={port}", f"DATA={data}", f"DOCS_TARGET={target}"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"make docs exited with {proc.returncode} before serving:\n{log.read()[-4000:]}")
            try:
                _get(base + "/", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"no answer on {base} after {START_TIMEOUT_S} s:\n{log.read()[-4000:]}")
                time.sleep(1)
        yield {"base": base, "target": target}
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        log.close()


def test_index_page_is_the_dbt_docs_app(docs_server):
    html = _get(docs_server["base"] + "/index.html").decode()
    assert "<html" in html.lower() and "dbt" in html.lower()
    assert len(html) > 100_000, "the single-page dbt docs app (inlined JS), not a directory listing"


def test_manifest_has_the_marts_with_their_descriptions(docs_server):
    manifest = json.loads(_get(docs_server["base"] + "/manifest.json"))
    nodes = manifest["nodes"]
    cases = {
        "plan_of_record": "dbt_project/models/marts/plan/_plan.yml",
        "kpi_scorecard": "dbt_project/models/marts/kpi/_kpi.yml",
    }
    for model, yml in cases.items():
        node = nodes[f"model.sop.{model}"]
        assert node["description"].strip() == _yaml_description(yml, model).strip()
        assert len(node["description"]) > 50
        assert node["schema"] == "marts" and node["config"]["materialized"] == "table"
        described = [c for c in node["columns"].values() if c.get("description")]
        assert described, f"{model}: column descriptions from the YAML"
    # lineage: the plan of record mart reads the Python asset's source table
    parents = manifest["parent_map"]["model.sop.plan_of_record"]
    assert any(p.startswith("source.sop.") and p.endswith(".plan_of_record") for p in parents), parents
    assert sum(1 for k in nodes if k.startswith("model.sop.")) >= 60


def test_catalog_has_the_built_tables_and_columns(docs_server):
    catalog = json.loads(_get(docs_server["base"] + "/catalog.json"))
    assert not catalog.get("errors"), catalog.get("errors")
    scorecard = catalog["nodes"]["model.sop.kpi_scorecard"]
    assert scorecard["metadata"]["schema"] == "marts"
    assert scorecard["metadata"]["type"].upper() in ("BASE TABLE", "TABLE")
    columns = {name.lower(): col for name, col in scorecard["columns"].items()}
    assert {"kpi", "value", "grain"} <= set(columns), sorted(columns)
    assert columns["value"]["type"].upper() in ("DOUBLE", "FLOAT", "DECIMAL", "REAL") or columns["value"][
        "type"
    ].upper().startswith("DECIMAL")
    plan = catalog["nodes"]["model.sop.plan_of_record"]
    assert len(plan["columns"]) >= 5
    # the files served are the ones this run wrote into its own target path
    assert (docs_server["target"] / "catalog.json").exists() and (docs_server["target"] / "index.html").exists()
