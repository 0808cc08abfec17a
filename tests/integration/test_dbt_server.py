"""The warm dbt server (sop_pipeline/dbt_server.py) against dbt's own CLI, on a mini project: the same
exit codes (0 success, 1 failed test, 2 error) and artifacts for the same arguments, without a parse
when the vars are the server's, and the real dbt in its place when the environment differs in a
variable dbt has no flag for, or when no server runs. Real dbt and DuckDB."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from sop_pipeline import dbt_server
from sop_pipeline.settings import dbt_executable
from tests.fixtures.dbt_build import PARSE_EVENTS, mini_dbt_project


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    output = "      type: duckdb\n      path: \"{{ var('db') }}\"\n"
    schema = "version: 2\nmodels:\n  - name: one\n    columns:\n      - name: id\n        data_tests: [unique]\n"
    return mini_dbt_project(
        tmp_path_factory.mktemp("warm_dbt") / "p", output, {"one": "select 1 as id union all select 1 as id"}, schema
    )


@pytest.fixture(scope="module")
def server(project):
    vars_arg = json.dumps({"db": str(project / "w.duckdb")})
    root = project / "target_root"
    with pytest.MonkeyPatch.context() as mp:  # the server's environment is this one (see `_dbt`)
        mp.delenv("PYTEST_CURRENT_TEST", raising=False)
        started = dbt_server.start(root, vars_arg, None, project, dbt_executable())
    assert started is not None
    yield started, vars_arg
    dbt_server.stop(root)
    assert not started.socket_path.exists()


def _dbt(command, project: Path, target: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """dbt as dagster-dbt runs it: JSON log lines, the target and log paths in the environment (and
    not pytest's per-phase variable, which would differ from the server's)."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    environ |= {"DBT_LOG_FORMAT": "json", "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(target)}
    environ.update({"DBT_PROJECT_DIR": str(project), "DBT_PROFILES_DIR": str(project), **env})
    environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return subprocess.run(
        [*map(str, command), *args], env=environ, cwd=project, capture_output=True, text=True, timeout=600
    )


def _events(proc: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def _names(target: Path) -> set[str]:
    """Names of the events in a dbt target dir's log (debug level included)."""
    lines = (target / "dbt.log").read_text().splitlines()
    return {json.loads(line)["info"]["name"] for line in lines if line.startswith("{")}


def test_the_client_marks_the_exit_code_as_the_server_does():
    from sop_pipeline import dbt_client  # a standalone script, importable too

    assert dbt_client.EXIT_MARK == dbt_server.EXIT_MARK


@pytest.mark.parametrize(
    "args, code",
    [
        (["run"], 0),  # the model builds
        (["build"], 1),  # its unique test fails
        (["build", "--select", "nothing_like_this"], 0),  # nothing selected: a warning
        (["run", "--threads", "not-a-number"], 2),  # a usage error
    ],
)
def test_the_server_gives_what_dbts_cli_gives(server, project, tmp_path, args, code):
    srv, vars_arg = server
    cli = _dbt([dbt_executable()], project, tmp_path / "cli", *args, "--vars", vars_arg)
    warm = _dbt(srv.command, project, tmp_path / "warm", *args, "--vars", vars_arg)  # as `_dbt_for_step` runs it
    assert (cli.returncode, warm.returncode) == (code, code), (cli.stdout[-1500:], warm.stdout[-1500:])
    if code == 2:
        return
    # dbt's JSON log on stdout, from a process forked by the server, and dbt's artifacts where dagster-dbt looks
    events = _events(warm)
    assert events and {e["info"]["pid"] for e in events} != {srv.process.pid}
    assert {e["info"]["name"] for e in events} == {e["info"]["name"] for e in _events(cli)} - PARSE_EVENTS
    cli_results = json.loads((tmp_path / "cli/run_results.json").read_text())["results"]
    warm_results = json.loads((tmp_path / "warm/run_results.json").read_text())["results"]
    assert sorted((r["unique_id"], r["status"]) for r in warm_results) == sorted(
        (r["unique_id"], r["status"]) for r in cli_results
    )
    # the CLI parsed the project; the server's child used the manifest parsed at start-up
    assert PARSE_EVENTS & _names(tmp_path / "cli")
    assert not PARSE_EVENTS & _names(tmp_path / "warm")


def test_other_vars_are_parsed_for_in_the_warm_process(server, project, tmp_path):
    srv, _ = server
    other = json.dumps({"db": str(tmp_path / "other.duckdb")})
    proc = _dbt(srv.command, project, tmp_path / "t", "run", "--vars", other)
    assert proc.returncode == 0, proc.stdout[-1500:]
    assert (tmp_path / "other.duckdb").exists()
    assert "StateCheckVarsHash" in _names(tmp_path / "t")


def test_an_environment_the_server_cannot_reproduce_runs_the_real_dbt(server, project, tmp_path):
    srv, vars_arg = server
    proc = _dbt(srv.command, project, tmp_path / "t", "run", "--vars", vars_arg, SOP_SOMETHING_DBT_MAY_READ="1")
    assert proc.returncode == 0, proc.stdout[-1500:]
    assert "StateCheckVarsHash" in _names(tmp_path / "t")  # dbt's CLI parsed
    log = (project / "target_root" / dbt_server.PARSE_DIR / "server.log").read_text()
    assert "FALLBACK: the environment differs in ['SOP_SOMETHING_DBT_MAY_READ']" in log


def test_without_a_server_the_client_is_the_real_dbt(project, tmp_path):
    vars_arg = json.dumps({"db": str(tmp_path / "w.duckdb")})
    root = tmp_path / "root"
    srv = dbt_server.start(root, vars_arg, None, project, dbt_executable())
    dbt_server.stop(root)  # its socket is gone
    proc = _dbt(srv.command, project, tmp_path / "t", "build", "--vars", vars_arg)
    assert proc.returncode == 1, proc.stdout[-1500:]  # the unique test fails, as on dbt's CLI
    assert "StateCheckVarsHash" in _names(tmp_path / "t")


def test_a_server_ends_with_the_process_that_started_it(project, tmp_path):
    script = (
        "import json, sys; from pathlib import Path; from sop_pipeline import dbt_server; "
        "from sop_pipeline.settings import dbt_executable; "
        f"s = dbt_server.start(Path({str(tmp_path / 'r')!r}), json.dumps({{'db': 'x'}}), None, "
        f"Path({str(project)!r}), dbt_executable()); print(s.process.pid, s.socket_path, flush=True); "
        "import os; os._exit(0)"
    )
    out = subprocess.run([os.sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    pid, sock = out.stdout.split()  # its owner left without stopping it (os._exit: no atexit)
    proc = subprocess.run(
        ["sh", "-c", f"for i in $(seq 120); do kill -0 {pid} 2>/dev/null || exit 0; sleep 1; done; exit 1"]
    )
    assert proc.returncode == 0, "the server outlived its owner by 2 minutes"
    assert not Path(sock).exists()  # the server removed its socket itself
