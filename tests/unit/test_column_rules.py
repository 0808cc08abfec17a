"""The column_rules generic test (dbt_project/macros/test_column_rules.sql), which checks a model's
not-null, unique, accepted-values and key rules in one dbt node: real dbt on DuckDB (and on a
private PostgreSQL server, tests/fixtures/postgres.py), a mini project with the project's own macro. A model that keeps every rule passes; one that breaks each rule fails
with dbt's failure count = the failing rows, and the cycle's message names every failing rule,
column, row count and an example value (the test's query run again on the warehouse)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sop_pipeline.assets.dbt import column_rule_failures, expand_rule_failures
from sop_pipeline.publish import build_failure_message, failed_tests
from sop_pipeline.resources import Warehouse
from sop_pipeline.settings import DBT_PROJECT_DIR
from sop_pipeline.warehouse_engines.postgres import dbt_connection_vars
from tests.fixtures.dbt_build import failing_dbt_build, mini_dbt_project

RULES = """
          arguments:
            unique_key: [k1, k2]
            not_null: [a, k1]
            unique: [b]
            accepted_values:
              c: [p, "it's"]
              d: [1, 2]
"""

MODEL = """select * from (values
    (1, 'x', 'p', 1, 'K', 1),
    (2, 'y', 'it''s', 2, 'K', 2),
    (3, 'z', null, null, 'K', 3){extra}
) as t(a, b, c, d, k1, k2)"""

BAD_ROWS = """,
    (null, 'x', 'Q', 7, 'K', 1),
    (null, null, 'p', 2, 'K', 4)"""


PROFILES = {
    "duckdb": "      type: duckdb\n      path: \"{{ env_var('MINI_WAREHOUSE') }}\"\n      schema: main\n",
    "postgres": (
        "      type: postgres\n      host: \"{{ var('pg_host') }}\"\n      port: \"{{ var('pg_port') | as_number }}\"\n"
        "      user: \"{{ var('pg_user') }}\"\n      password: ''\n      dbname: \"{{ var('pg_dbname') }}\"\n"
        "      schema: main\n"
    ),
}


def _project(root: Path, engine: str) -> Path:
    tests = "".join(
        f"  - name: {name}\n    data_tests:\n      - column_rules:\n          name: column_rules_{name}\n{RULES}"
        for name in ("good", "bad")
    )
    models = {"good": MODEL.format(extra=""), "bad": MODEL.format(extra=BAD_ROWS)}
    mini_dbt_project(root, PROFILES[engine], models, f"version: 2\nmodels:\n{tests}")
    (root / "macros").mkdir()
    shutil.copy(DBT_PROJECT_DIR / "macros" / "test_column_rules.sql", root / "macros")
    return root


def test_column_rules_pass_a_good_model_and_name_every_failing_column_of_a_bad_one(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    _check(tmp_path, "duckdb", Warehouse(path=str(warehouse)), {"MINI_WAREHOUSE": str(warehouse)}, [])


@pytest.mark.integration
def test_column_rules_on_postgres(tmp_path, postgres_server):
    dsn = postgres_server.create_database("column_rules")
    variables = json.dumps({k: str(v) for k, v in dbt_connection_vars(dsn).items()})
    _check(tmp_path, "postgres", Warehouse(path="", dsn=dsn), {}, ["--vars", variables])


def _check(tmp_path: Path, engine: str, warehouse: Warehouse, env: dict[str, str], args: list[str]) -> None:
    project = _project(tmp_path / "project", engine)
    run_results, manifest = failing_dbt_build(project, env, *args)
    status = {r["unique_id"].split(".")[2]: (r["status"], r["failures"]) for r in run_results["results"]}
    assert status["column_rules_good"] == ("pass", 0)
    # 2 empty a, 2 rows share b = 'x', 1 c not accepted, 1 d not accepted, 2 rows share key (K, 1);
    # the second bad row's empty b is no duplicate and its key (K, 4) is new
    assert status["column_rules_bad"] == ("fail", 8)

    offending = column_rule_failures(run_results, manifest, warehouse)
    assert len(offending) == 1
    rules = {(r["rule"], r["column_name"]): (r["failing_rows"], r["example"]) for r in next(iter(offending.values()))}
    assert rules == {
        ("not_null", "a"): (2, None),
        ("unique", "b"): (2, "x"),
        ("accepted_values", "c"): (1, "Q"),
        ("accepted_values", "d"): (1, "7"),
        ("unique_key", "k1, k2"): (2, "K, 1"),
    }
    message = build_failure_message(
        "dbt build of the marts",
        expand_rule_failures(failed_tests(run_results, manifest), offending),
        run_results,
        manifest,
    )
    assert message.startswith("dbt build of the marts stopped the cycle: 5 dbt tests failed: "), message
    for part in (
        "not_null test on main.bad.a: 2 rows failed (test column_rules_bad)",
        "unique test on main.bad.b: 2 rows failed, e.g. x (test column_rules_bad)",
        "accepted_values test on main.bad.c: 1 row failed, e.g. Q (test column_rules_bad)",
        "accepted_values test on main.bad.d: 1 row failed, e.g. 7 (test column_rules_bad)",
        "unique_key test on main.bad.k1, k2: 2 rows failed, e.g. K, 1 (test column_rules_bad)",
    ):
        assert part in message, message
