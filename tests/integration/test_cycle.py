"""The whole graph on small demo data via the real `sop run` (Dagster + dbt + DuckDB + GX)."""

from __future__ import annotations

import duckdb
import pytest

from sop_pipeline.contract import EXTRACTS
from tests.conftest import run_cycle, sop

pytestmark = pytest.mark.integration


def test_run_reports_progress_and_publishes(small_cycle):
    assert "meta/cycle" in small_cycle.stdout and "serving/sop" in small_cycle.stdout
    assert small_cycle.serving.exists() and small_cycle.warehouse.exists()
    parquet = small_cycle.data / "serving" / "parquet"
    assert parquet.is_symlink() and (parquet / "data_quality_extracts.parquet").exists()


def test_every_extract_is_in_raw_and_accounted_for(small_cycle):
    with duckdb.connect(str(small_cycle.warehouse), read_only=True) as con:
        log = (
            con.execute(
                "select extract, status, rows_read, rows_loaded, rows_quarantined, rows_after_as_of "
                "from meta.ingest_log"
            )
            .df()
            .set_index("extract")
        )
        assert set(log.index) == set(EXTRACTS)
        assert (log.status == "loaded").all(), "the demo writes every extract of the contract"
        for name in EXTRACTS:
            raw = con.execute(f"select count(*) from raw.{name}").fetchall()[0][0]
            quarantined = con.execute(f"select count(*) from quarantine.{name}").fetchall()[0][0]
            assert raw == log.loc[name, "rows_loaded"] > 0, name
            assert log.loc[name, "rows_read"] == raw + quarantined, name
            staged = con.execute(f"select count(*) from staging.stg_{_system(con, name)}__{name}").fetchall()[0][0]
            if name == "routings":  # primary routings, and the alternates in a model of their own
                staged += con.execute("select count(*) from staging.stg_mes__routing_alternates").fetchall()[0][0]
            assert staged == raw, name


def test_the_demos_keying_errors_are_quarantined_and_summarised(small_cycle):
    # the demo appends three rows keyed wrongly (demo/keying.py): each is quarantined under its rule
    # and column, nothing else is, and `sop run` says so on the terminal, file by file
    import pandas as pd

    truth = pd.read_csv(small_cycle.extracts / "_truth" / "keying_errors.csv", dtype=str)
    with duckdb.connect(str(small_cycle.warehouse), read_only=True) as con:
        issues = con.execute(
            "select extract, rule, column_name, value, source_row from quarantine.issues where rule <> 'after_as_of'"
        ).df()
    assert sorted(map(tuple, issues[["extract", "rule", "column_name"]].to_numpy())) == sorted(
        map(tuple, truth[["extract", "rule", "column_name"]].to_numpy())
    )
    assert sorted(issues.value.str.removesuffix(".0")) == sorted(truth.value)
    assert "3 source rows quarantined, not loaded" in small_cycle.stdout
    assert "opportunities.csv: 2 of " in small_cycle.stdout and "(category 1, range 1)" in small_cycle.stdout
    assert "purchase_orders.csv: 1 of " in small_cycle.stdout and "(reference 1)" in small_cycle.stdout


def _system(con, name: str) -> str:
    rows = [
        r
        for r in con.execute("select table_name from information_schema.tables where table_schema='staging'").fetchall()
        if r[0].startswith("stg_") and r[0].split("__", 1)[1] == name
    ]
    assert len(rows) == 1, f"one staging model for {name}"
    return rows[0][0].split("__")[0].removeprefix("stg_")


def test_staging_derives_iso_monday_weeks(small_cycle):
    with duckdb.connect(str(small_cycle.warehouse), read_only=True) as con:
        bad = con.execute(
            "select count(*) from staging.stg_pos__pos_sales "
            "where isodow(week_start) <> 1 or sales_date - week_start not between 0 and 6"
        ).fetchall()
        assert bad == [(0,)]


def test_serving_file_holds_the_marts_and_publish_info(small_cycle):
    with duckdb.connect(str(small_cycle.serving), read_only=True) as con:
        tables = {r[0] for r in con.execute("show tables").fetchall()}
        assert {"data_quality_extracts", "data_quality_issues", "_publish_info"} <= tables
        cycle, checksum = con.execute("select cycle, checksum from _publish_info").fetchall()[0]
        assert cycle == "2026-11-22" and len(checksum) == 64
        assert con.execute("select count(*) from data_quality_extracts").fetchall() == [(len(EXTRACTS),)]


def test_plan_of_record_reconciles_with_the_finance_plan_and_cash_projection(small_cycle):
    with duckdb.connect(str(small_cycle.serving), read_only=True) as con:
        horizon = con.execute(
            "select days_covered, days_in_period, revenue_plan_of_record, revenue_finance_plan, "
            "price_effect + volume_effect + mix_effect - total_difference from plan_reconciliation "
            "where period = 'horizon' and level = 'total'"
        ).fetchall()
        plan_revenue = con.execute("select sum(revenue) from plan_of_record").fetchall()[0][0]
        controls = con.execute("select measure, downstream, reconciles from plan_reconciliation_controls").fetchall()
    ((days, horizon_days, por, finance, residual),) = horizon
    assert days == horizon_days == 91 and finance > 0 and abs(residual) < 1e-6
    assert abs(por - plan_revenue) < 0.01  # the demo's revenue plan covers every month of the horizon
    assert len(controls) == 10 and all(ok for _, _, ok in controls), controls
    assert {m for m, _, _ in controls} == {
        "units",
        "revenue",
        "margin",
        "net_margin",
        "cogs",
        "inventory_value_horizon_end",
    }


def test_items_and_pos_only_run_reports_other_extracts_absent(items_and_pos_only):
    run = items_and_pos_only
    assert run.returncode == 0, run.stderr[-3000:]
    with duckdb.connect(str(run.serving), read_only=True) as con:
        status = dict(con.execute("select extract, status from data_quality_extracts").fetchall())
    assert status.pop("items") == status.pop("pos_sales") == "loaded"
    assert set(status.values()) == {"absent"}


def test_structural_error_fails_the_run_with_a_readable_message(demo_extracts, copy_extracts, tmp_path):
    extracts = copy_extracts(demo_extracts, ["items", "pos_sales"])
    text = (extracts / "items.csv").read_text().replace("unit_price", "price", 1)
    (extracts / "items.csv").write_text(text)
    run = run_cycle(extracts, tmp_path / "data", "--groups", "ingest")
    assert run.returncode == 1
    assert "items.csv, column 'unit_price': required column 'unit_price' is missing" in run.stderr
    assert "Traceback" not in run.stderr


def test_as_of_excludes_later_rows_and_counts_them(demo_extracts, copy_extracts, tmp_path):
    extracts = copy_extracts(demo_extracts, ["items", "pos_sales"])
    run = run_cycle(extracts, tmp_path / "data", "--as-of", "2026-10-31", "--groups", "ingest")
    assert run.returncode == 0, run.stderr[-3000:]
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        assert con.execute("select max(date) from raw.pos_sales").fetchall()[0][0].isoformat() == "2026-10-31"
        after, read, loaded = con.execute(
            "select rows_after_as_of, rows_read, rows_loaded from meta.ingest_log where extract='pos_sales'"
        ).fetchall()[0]
        assert after > 0 and read == loaded + after
        assert con.execute("select week1_start from meta.cycle").fetchall()[0][0].isoformat() == "2026-11-02"


def test_unknown_group_is_a_usage_error(demo_extracts, tmp_path):
    proc = sop("run", "--extracts", str(demo_extracts), "--data-dir", str(tmp_path), "--groups", "nonsense")
    assert proc.returncode == 2 and "unknown asset group" in proc.stderr


def test_bad_as_of_is_a_usage_error():
    proc = sop("run", "--as-of", "next tuesday")
    assert proc.returncode == 2 and "must be a date like" in proc.stderr


def test_as_of_before_the_demand_history_is_one_line_up_front(demo_extracts, tmp_path):
    proc = sop(
        "run",
        "--extracts",
        str(demo_extracts),
        "--data-dir",
        str(tmp_path / "data"),
        "--as-of",
        "2001-01-01",
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "leaves no demand history" in lines[0] and "Traceback" not in proc.stderr
    assert "2001-01-01" in lines[0] and "choose an as-of on or after" in lines[0]
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()  # nothing ran


def test_a_duplicated_item_key_and_latin1_descriptions_never_stop_the_cycle(items_and_pos_only):
    """The items file of the items + POS run has SKU0040 twice and two Latin-1 descriptions
    (tests/conftest.py HOSTILE_ITEMS): both copies of the duplicate and the duplicate's POS rows
    are quarantined with the reason, the badly encoded text is repaired, and the cycle publishes."""
    from tests.conftest import HOSTILE_ITEMS

    run = items_and_pos_only
    assert run.returncode == 0, run.stderr[-3000:]
    dup = HOSTILE_ITEMS["duplicate"]
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        quarantined = con.execute("select sku, _rules, _reasons from quarantine.items").fetchall()
        assert [q[0] for q in quarantined] == [dup, dup]
        assert all("rows share it" in q[2] and "all quarantined" in q[2] for q in quarantined)
        pos_rules = con.execute("select distinct _rules from quarantine.pos_sales where sku = ?", [dup]).fetchall()
        pos_left = con.execute("select count(*) from raw.pos_sales where sku = ?", [dup]).fetchone()[0]
        pos_reason = con.execute("select min(_reasons) from quarantine.pos_sales where sku = ?", [dup]).fetchone()[0]
        repaired = con.execute(
            "select sku, description from raw.items where sku in (?, ?) order by sku", list(HOSTILE_ITEMS["latin1"])
        ).fetchall()
        read, loaded, bad = con.execute(
            "select rows_read, rows_loaded, rows_quarantined from meta.ingest_log where extract = 'pos_sales'"
        ).fetchone()
    assert pos_rules == [("master_quarantined",)] and pos_left == 0
    assert pos_reason.startswith("item quarantined: ")
    assert [sku for sku, _ in repaired] == sorted(HOSTILE_ITEMS["latin1"])
    assert all(description.endswith("Caf\u00e9") for _, description in repaired)
    assert read == loaded + bad and bad > 0
    with duckdb.connect(str(run.serving), read_only=True) as con:
        rules = dict(
            con.execute(
                "select rule, sum(rows_affected) from data_quality_issues "
                "where extract in ('items', 'pos_sales') group by rule"
            ).fetchall()
        )
        planned = {r[0] for r in con.execute("select distinct sku from plan_of_record").fetchall()}
    assert rules["duplicate_key"] == 2 and rules["master_quarantined"] == bad
    assert dup not in planned and set(HOSTILE_ITEMS["latin1"]) <= planned
