"""Publish: atomic switch, failure leaves the previous cycle readable, history keeps one copy per cycle."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from sop_pipeline.publish import publish


def _warehouse(path: Path, cycle: str, units: float) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts; create schema if not exists history")
        con.execute("create or replace table marts.plan_of_record as select ?::date as cycle_id, 'A' as sku, "
                    "?::double as demand_units", [cycle, units])
        con.execute("create or replace table marts.other as select 1 as x")
        con.execute("create table if not exists history.plan_of_record as select * from marts.plan_of_record "
                    "where false")
        con.execute("delete from history.plan_of_record where cycle_id = ?", [cycle])
        con.execute("insert into history.plan_of_record select * from marts.plan_of_record")
    return path


def _published(serving: Path) -> tuple:
    with duckdb.connect(str(serving / "sop.duckdb"), read_only=True) as con:
        return con.execute("select cycle from _publish_info").fetchall()[0][0], \
            con.execute("select demand_units from plan_of_record").fetchall()[0][0]


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
    with pytest.raises(RuntimeError, match="simulated failure"):
        publish(_warehouse(tmp_path / "w.duckdb", "2026-01-11", 99), serving, "2026-01-11", _fail_before_switch=True)
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
    rows = duckdb.sql(f"select cycle_id::varchar, demand_units from read_parquet('{serving}/history/plan_of_record/*/*.parquet') "
                      "order by 1").fetchall()
    assert rows == [("2026-01-04", 10), ("2026-01-11", 25)]
    with duckdb.connect(str(serving / "sop.duckdb"), read_only=True) as con:
        assert con.execute("select cycle_id::varchar, demand_units from history_plan_of_record order by 1").fetchall() \
            == [("2026-01-04", 10), ("2026-01-11", 25)]
