"""A backfill replays a past cycle: `sop backfill` of the week before the demo's cycle, into a copy
of the session run's data dir (real Dagster, dbt, DuckDB). History gains the older cycle, keyed by
its partition; serving/ still publishes the newer cycle, unchanged table for table."""

from __future__ import annotations

import shutil
from datetime import date

import duckdb
import pytest

from tests.conftest import CYCLE_TIMEOUT_S, sop
from tests.integration.test_meeting_pack_panels import parse_panels
from tests.integration.test_reproducible import table_fingerprints

pytestmark = pytest.mark.integration

OLDER, CURRENT = date(2026, 11, 15), date(2026, 11, 22)


def _by_cycle(con, table: str) -> dict:
    # cycle_id as a date (the analytics tables keep it as a timestamp at midnight)
    return dict(con.execute(f"select cast(cycle_id as date), count(*) from {table} group by 1").fetchall())


def test_backfill_of_an_older_week_keeps_its_history_and_leaves_serving_alone(small_cycle, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(small_cycle.data, data, symlinks=True)
    served = table_fingerprints(data / "serving" / "sop.duckdb")
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        current_plan = con.execute(
            "select md5(string_agg(t::varchar, '|' order by t::varchar)) from history.plan_of_record t "
            "where cycle_id = ?",
            [CURRENT],
        ).fetchone()[0]
        log_before = _by_cycle(con, "history.decision_log")
    assert OLDER not in log_before and CURRENT in log_before

    proc = sop(
        "backfill", "--from", str(OLDER), "--to", str(OLDER), "--extracts", str(small_cycle.extracts),
        "--data-dir", str(data), timeout=CYCLE_TIMEOUT_S,
    )  # fmt: skip
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "1 cycle(s), as of 2026-11-15" in proc.stdout
    assert "cycle partition 2026-11-09, as-of 2026-11-15" in proc.stdout
    assert "older than the published cycle 2026-11-22: kept its history partitions only" in proc.stdout

    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        meta = con.execute("select as_of, partition_key, as_of_source from meta.cycle").fetchall()
        assert meta == [(OLDER, "2026-11-09", "backfill: partition end (Sunday)")]
        for table in (
            "history.plan_of_record",
            "history.decision_log",
            "analytics.forecast_history",
            "history.exceptions",
            "history.forecast_method_selection",  # each cycle's selection: the next one's incumbent defaults
        ):
            cycles = _by_cycle(con, table)
            assert cycles.get(OLDER) and cycles.get(CURRENT), f"{table}: {cycles}"
        own = con.execute(
            "select count(*), count(*) filter (where supply_source = 'history') from history.plan_of_record "
            "where cycle_id = ?",
            [OLDER],
        ).fetchone()
        assert own[0] > 0 and own[1] == 0, "the replayed cycle's own plan, not a seeded copy"
        assert (
            con.execute(
                "select md5(string_agg(t::varchar, '|' order by t::varchar)) from history.plan_of_record t "
                "where cycle_id = ?",
                [CURRENT],
            ).fetchone()[0]
            == current_plan
        )
    # serving/ still publishes 2026-11-22, table for table; the older cycle only added its history partitions
    assert table_fingerprints(data / "serving" / "sop.duckdb") == served
    with duckdb.connect(str(data / "serving" / "sop.duckdb"), read_only=True) as con:
        assert con.execute("select cycle from _publish_info").fetchone()[0] == str(CURRENT)
    assert (data / "serving" / "history" / "plan_of_record" / f"cycle={OLDER}" / "plan_of_record.parquet").is_file()
    assert not (data / "reports" / f"sop_pack_{OLDER}.html").exists()


def test_consecutive_cycles_keep_a_class_default_until_it_is_clearly_beaten(demo_extracts, tmp_path):
    # Two weekly cycles in a fresh data dir: the first tests each class's default against the fixed
    # prior, the second against the first's (history.forecast_method_selection). On the demo the
    # intermittent class's best two combinations sit at the test's threshold: against the fixed prior
    # the class flips from combination_median on 2026-11-01 to combination_trend on 2026-11-08, and
    # back and forth over the weeks before (benchmarks/selection_stability.py); as the incumbent,
    # combination_median holds
    proc = sop(
        "backfill", "--from", "2026-11-01", "--to", "2026-11-08", "--extracts", str(demo_extracts),
        "--data-dir", str(tmp_path / "data"), timeout=2 * CYCLE_TIMEOUT_S,
    )  # fmt: skip
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as con:
        defaults = con.execute(
            "select cast(cycle_id as date), intermittency, min(default_method), max(default_method) "
            "from history.forecast_method_selection group by 1, 2 order by 1, 2"
        ).fetchall()
        # the second cycle's demand review compares its forecast with the first's (analytics.forecast_history)
        movers = con.execute(
            "select sku, units, units_before from marts.demand_review where item = 'top_mover_vs_last_cycle'"
        ).df()
        before = con.execute(
            "select h.sku, sum(h.units_p50) as units_before from analytics.forecast_history h "
            "join analytics.demand_forecast f on f.sku = h.sku and f.week_start = h.week_start "
            "and f.horizon_week between 1 and 13 "
            "where cast(h.cycle_id as date) = date '2026-11-01' group by h.sku"
        ).df()
    assert 2 <= len(movers) <= 10, movers
    check = movers.merge(before, on="sku", suffixes=("", "_history"))
    assert len(check) == len(movers) and (check.units_before - check.units_before_history).abs().max() < 1e-6
    pack = (tmp_path / "data" / "reports" / "sop_pack_2026-11-08.html").read_text(encoding="utf-8")
    shown = parse_panels(pack)["demand-top-movers"].tables[0]
    assert "vs last cycle" in shown.column("Compared") and set(movers.sku) <= set(shown.column("SKU"))
    by = {(c, cls): (lo, hi) for c, cls, lo, hi in defaults}
    first, second = date(2026, 11, 1), date(2026, 11, 8)
    assert all(lo == hi for lo, hi in by.values()), "one default per class and cycle"
    assert by[(first, "intermittent")][0] == "combination_median"
    assert by[(second, "intermittent")] == by[(first, "intermittent")]
    assert by[(second, "smooth")] == by[(first, "smooth")]
