"""Publish: atomic switch, failure leaves the previous cycle readable, history keeps one copy per cycle,
paths with quotes, a checksum of the data only, and failure messages that name the failed tests."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from sop_pipeline.publish import build_failure_message, failed_tests, publish
from tests.fixtures.dbt_build import failing_dbt_build, mini_dbt_project


def _warehouse(path: Path, cycle: str, units: float) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts; create schema if not exists history")
        con.execute(
            "create or replace table marts.plan_of_record as select ?::date as cycle_id, 'A' as sku, "
            "?::double as demand_units",
            [cycle, units],
        )
        con.execute("create or replace table marts.other as select 1 as x")
        con.execute(
            "create table if not exists history.plan_of_record as select * from marts.plan_of_record where false"
        )
        con.execute("delete from history.plan_of_record where cycle_id = ?", [cycle])
        con.execute("insert into history.plan_of_record select * from marts.plan_of_record")
    return path


def _published(serving: Path) -> tuple:
    with duckdb.connect(str(serving / "sop.duckdb"), read_only=True) as con:
        return con.execute("select cycle from _publish_info").fetchall()[0][0], con.execute(
            "select demand_units from plan_of_record"
        ).fetchall()[0][0]


def test_publish_writes_serving_file_parquet_and_history(tmp_path):
    wh = _warehouse(tmp_path / "w.duckdb", "2026-01-04", 10)
    report = publish(wh, tmp_path / "serving", "2026-01-04")
    assert _published(tmp_path / "serving") == ("2026-01-04", 10)
    assert report.row_counts == {"other": 1, "plan_of_record": 1, "history_plan_of_record": 1}
    assert (tmp_path / "serving/parquet/plan_of_record.parquet").exists()
    part = tmp_path / "serving/history/plan_of_record/cycle=2026-01-04/plan_of_record.parquet"
    assert duckdb.sql(f"select demand_units from '{part}'").fetchall() == [(10,)]
    assert len(report.checksum) == 64


def test_failure_before_the_switch_leaves_the_previous_cycle_intact(tmp_path):
    serving = tmp_path / "serving"
    publish(_warehouse(tmp_path / "w.duckdb", "2026-01-04", 10), serving, "2026-01-04")
    before = sorted(p.name for p in serving.rglob("*"))

    def fail_before_switch(step):
        if step == "staged":
            raise RuntimeError("simulated failure before the switch")

    with pytest.raises(RuntimeError, match="simulated failure"):
        publish(_warehouse(tmp_path / "w.duckdb", "2026-01-11", 99), serving, "2026-01-11", on_step=fail_before_switch)
    assert _published(serving) == ("2026-01-04", 10)
    assert duckdb.sql(f"select demand_units from '{serving / 'parquet/plan_of_record.parquet'}'").fetchall() == [(10,)]
    assert sorted(p.name for p in serving.rglob("*")) == before, "no temp files or partitions left behind"


def test_a_reader_keeps_its_snapshot_while_the_next_cycle_is_published(tmp_path):
    serving = tmp_path / "serving"
    publish(_warehouse(tmp_path / "w.duckdb", "2026-01-04", 10), serving, "2026-01-04")
    reader = duckdb.connect(str(serving / "sop.duckdb"), read_only=True)
    publish(_warehouse(tmp_path / "w.duckdb", "2026-01-11", 20), serving, "2026-01-11")
    assert reader.execute("select demand_units from plan_of_record").fetchall() == [(10,)]
    reader.close()
    assert _published(serving) == ("2026-01-11", 20)


def test_rerunning_a_cycle_keeps_one_copy_of_it_in_history(tmp_path):
    serving, wh = tmp_path / "serving", tmp_path / "w.duckdb"
    publish(_warehouse(wh, "2026-01-04", 10), serving, "2026-01-04")
    publish(_warehouse(wh, "2026-01-11", 20), serving, "2026-01-11")
    publish(_warehouse(wh, "2026-01-11", 25), serving, "2026-01-11")  # re-run of the same cycle
    cycles = sorted(p.name for p in (serving / "history/plan_of_record").iterdir())
    assert cycles == ["cycle=2026-01-04", "cycle=2026-01-11"]
    rows = duckdb.sql(
        f"select cycle_id::varchar, demand_units from read_parquet('{serving}/history/plan_of_record/*/*.parquet') "
        "order by 1"
    ).fetchall()
    assert rows == [("2026-01-04", 10), ("2026-01-11", 25)]
    with duckdb.connect(str(serving / "sop.duckdb"), read_only=True) as con:
        assert con.execute(
            "select cycle_id::varchar, demand_units from history_plan_of_record order by 1"
        ).fetchall() == [("2026-01-04", 10), ("2026-01-11", 25)]


def test_an_older_cycle_writes_its_history_only_and_the_newer_cycle_stays_served(tmp_path):
    from sop_pipeline.publish import newest_published_cycle

    serving, wh = tmp_path / "serving", tmp_path / "w.duckdb"
    assert newest_published_cycle(serving) is None
    publish(_warehouse(wh, "2026-01-11", 20), serving, "2026-01-11")
    files = {p: p.read_bytes() for p in [serving / "sop.duckdb", *sorted((serving / "parquet").iterdir())]}
    release = os.readlink(serving / "parquet")
    report = publish(_warehouse(wh, "2026-01-04", 10), serving, "2026-01-04")  # a backfill replays an older week
    assert not report.served and report.newest_cycle == "2026-01-11" and report.release_id == ""
    assert "older than the published cycle 2026-01-11" in report.note and "history partitions only" in report.note
    assert {p: p.read_bytes() for p in files} == files and os.readlink(serving / "parquet") == release
    assert _published(serving) == ("2026-01-11", 20) and newest_published_cycle(serving) == "2026-01-11"
    rows = duckdb.sql(
        f"select cycle_id::varchar, demand_units from read_parquet('{serving}/history/plan_of_record/*/*.parquet') "
        "order by 1"
    ).fetchall()
    assert rows == [("2026-01-04", 10), ("2026-01-11", 20)]
    assert publish(_warehouse(wh, "2026-01-11", 21), serving, "2026-01-11").served  # the same cycle: served again
    assert publish(_warehouse(wh, "2026-01-18", 30), serving, "2026-01-18").served  # a newer one too
    assert _published(serving) == ("2026-01-18", 30)


# --- paths with quotes, deterministic checksum ------------------------------------------------

HOSTILE = 'it\'s a "test" dir'


def _checksum(serving: Path) -> str:
    with duckdb.connect(str(serving / "sop.duckdb"), read_only=True) as con:
        return con.execute("select checksum from _publish_info").fetchall()[0][0]


def test_publish_works_where_paths_hold_quotes(tmp_path):
    root = tmp_path / HOSTILE
    root.mkdir()
    report = publish(_warehouse(root / "w.duckdb", "2026-01-04", 10), root / "serving", "2026-01-04")
    assert _published(root / "serving") == ("2026-01-04", 10)
    assert (root / "serving/parquet/plan_of_record.parquet").exists()
    assert (root / "serving/history/plan_of_record/cycle=2026-01-04/plan_of_record.parquet").exists()
    assert _checksum(root / "serving") == report.checksum


def test_checksum_covers_the_data_only(tmp_path):
    wh = _warehouse(tmp_path / "w.duckdb", "2026-01-04", 10)
    with duckdb.connect(str(wh)) as con:
        con.execute(
            "create or replace table marts.other as select range as x, range * 0.1::double as y from range(5000)"
        )
    first = publish(wh, tmp_path / "a", "2026-01-04").checksum
    second = publish(wh, tmp_path / "b", "2026-01-04").checksum
    assert first == second == _checksum(tmp_path / "a") == _checksum(tmp_path / "b")
    assert (tmp_path / "a/parquet/other.parquet").read_bytes() != b""
    with duckdb.connect(str(wh)) as con:  # same rows in another physical order: same data
        con.execute("create or replace table marts.other as select * from marts.other order by x desc")
    assert publish(wh, tmp_path / "c", "2026-01-04").checksum == first
    with duckdb.connect(str(wh)) as con:  # one value changed
        con.execute("update marts.other set y = y + 1e-9 where x = 4321")
    changed = publish(wh, tmp_path / "d", "2026-01-04").checksum
    assert changed != first
    with duckdb.connect(str(wh)) as con:  # same values, one column renamed
        con.execute("update marts.other set y = x * 0.1::double where x = 4321")
    assert publish(wh, tmp_path / "e", "2026-01-04").checksum == first
    with duckdb.connect(str(wh)) as con:
        con.execute("alter table marts.other rename column y to z")
    assert publish(wh, tmp_path / "f", "2026-01-04").checksum != first


# --- the failure message of a dbt build (every failed test, every errored model) ----------------


def _dbt_project(root: Path) -> Path:
    output = "      type: duckdb\n      path: \"{{ env_var('MINI_WAREHOUSE') }}\"\n      schema: marts\n"
    models = {
        "items": "select 'A' as sku union all select 'B'",
        "plan": "select * from (values (1, 'A'), (2, 'X'), (3, 'X'), (4, 'Y'), (5, null)) as t(line, sku)",
    }
    return mini_dbt_project(
        root,
        output,
        models,
        """
version: 2
models:
  - name: plan
    columns:
      - name: sku
        data_tests:
          - not_null
          - relationships:
              arguments:
                to: ref('items')
                field: sku
  - name: items
    columns:
      - name: sku
        data_tests: [unique]
""",
    )


def test_build_failure_message_names_test_table_column_and_rows_from_real_dbt_output(tmp_path):
    project = _dbt_project(tmp_path / HOSTILE / "project")
    run_results, manifest = failing_dbt_build(project, {"MINI_WAREHOUSE": str(tmp_path / HOSTILE / "warehouse.duckdb")})
    failed = {f.kind: f for f in failed_tests(run_results, manifest)}
    assert set(failed) == {"relationships", "not_null"}, "the unique test passed and is not listed"
    rel = failed["relationships"]
    assert (rel.table, rel.column, rel.failures, rel.to, rel.field) == ("marts.plan", "sku", 3, "items", "sku")
    assert (failed["not_null"].table, failed["not_null"].failures) == ("marts.plan", 1)
    message = build_failure_message("dbt build of the marts", list(failed.values()), run_results, manifest)
    assert message.startswith("dbt build of the marts stopped the cycle: 2 dbt tests failed: ")
    assert message.endswith("Not published: the previous cycle stays in serving/.")
    assert (
        "marts.plan.sku: 3 rows with a sku not found in items.sku (test relationships_plan_sku__sku__ref_items_)"
        in message
    )
    assert "not_null test on marts.plan.sku: 1 row failed (test not_null_plan_sku)" in message
    assert "()" not in message


def test_build_failure_message_for_a_test_that_errored_a_model_that_errored_or_no_results():
    run_results = {
        "results": [
            {
                "unique_id": "test.p.relationships_a_b__c__ref_d_.1",
                "status": "error",
                "failures": None,
                "message": "Binder Error: column c not found\nLINE 1",
            }
        ]
    }
    manifest = {
        "nodes": {
            "test.p.relationships_a_b__c__ref_d_.1": {
                "name": "relationships_a_b__c__ref_d_",
                "attached_node": "model.p.a",
                "column_name": "b",
                "test_metadata": {"name": "relationships", "kwargs": {"to": "ref('d')", "field": "c"}},
            },
            "model.p.a": {"name": "a", "alias": "a", "schema": "marts"},
        }
    }
    message = build_failure_message(
        "dbt build of the marts", failed_tests(run_results, manifest), run_results, manifest
    )
    assert message == (
        "dbt build of the marts stopped the cycle: 1 dbt test failed: relationships test on marts.a.b "
        "could not run: Binder Error: column c not found (test relationships_a_b__c__ref_d_). "
        "Not published: the previous cycle stays in serving/."
    )
    model_error = {
        "results": [
            {
                "unique_id": "model.p.a",
                "status": "error",
                "message": "Runtime Error in model a\n  Binder Error: no column x",
            },
            {"unique_id": "model.p.b", "status": "skipped", "message": ""},
        ]
    }
    message = build_failure_message("dbt build of staging + intermediate", [], model_error, manifest)
    assert "model marts.a failed: Runtime Error in model a" in message and "model.p.b" not in message
    assert "dbt said: Compilation Error" in build_failure_message("dbt build", [], {}, None, "Compilation Error")
