"""Plan of record across two cycles on the small demo (real pipeline, plan group re-run).

The demo's decision log approves a 3-week freeze window (D-2026-10-001). On a first cycle there
is nothing to freeze to; once history holds an earlier cycle's plan, the first three weeks of
supply are locked to it, the freeze check passes, and `plan_changes` explains the difference.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import duckdb
import pandas as pd
import pytest

from tests.conftest import run_cycle

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def second_cycle(small_cycle, tmp_path_factory):
    data = tmp_path_factory.mktemp("second_cycle") / "data"
    shutil.copytree(small_cycle.data, data, ignore=shutil.ignore_patterns("dagster_home"))
    with duckdb.connect(str(data / "warehouse.duckdb")) as con:
        cycle = con.execute("select max(cycle_id) from history.plan_of_record").fetchone()[0]
        previous = cycle - timedelta(days=7)
        # an earlier cycle that expected 10 % less demand and planned 20 % less supply every week
        # (it replaces the demo's plan_history cycle of the same date, which the first run seeded)
        con.execute("delete from history.plan_of_record where cycle_id = ?", [previous])
        con.execute(
            "insert into history.plan_of_record by name select * replace "
            "(cast(? as date) as cycle_id, supply_units * 0.8 as supply_units, "
            "demand_units * 0.9 as demand_units, revenue * 0.9 as revenue) "
            "from history.plan_of_record where cycle_id = ?",
            [previous, cycle],
        )
    run = run_cycle(small_cycle.extracts, data, "--groups", "plan")
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run, cycle, previous


def test_freeze_window_locks_the_first_weeks_to_the_previous_cycle(second_cycle):
    run, cycle, previous = second_cycle
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        plan = con.execute(
            "select p.sku, p.horizon_week, p.supply_units, p.supply_source, p.decision_ids, "
            "h.supply_units as previous_units from marts.plan_of_record p "
            "left join history.plan_of_record h on h.sku = p.sku and h.week_start = p.week_start "
            "and h.cycle_id = ?",
            [previous],
        ).df()
        effect = con.execute("select effect from marts.decision_log where decision_id = 'D-2026-10-001'").fetchone()[0]
        changes = con.execute("select previous_cycle_id, units_change from marts.plan_changes").df()
        cycles = con.execute("select count(distinct cycle_id) from history.plan_of_record").fetchone()[0]
    frozen = plan[plan.horizon_week <= 3]
    later = plan[plan.horizon_week > 3]
    assert (frozen.supply_source == "frozen").all() and frozen.decision_ids.str.contains("D-2026-10-001").all()
    assert ((frozen.supply_units - frozen.previous_units).abs() < 1e-6).all()
    assert not (later.supply_source == "frozen").any()
    assert "locked to the previous cycle's plan" in effect
    # the plan_history extract's cycles (last week's plan and earlier consensus plans) + this cycle
    extract_cycles = pd.read_csv(run.extracts / "plan_history.csv", usecols=["cycle_id"]).cycle_id.nunique()
    assert cycles == extract_cycles + 1 and len(changes)
    assert (pd.to_datetime(changes.previous_cycle_id) == pd.Timestamp(previous)).all()
    assert (changes.units_change >= -1e-9).all() and changes.units_change.sum() > 0  # it expected less


def test_plan_checks_pass_on_the_second_cycle(second_cycle):
    run, _, _ = second_cycle
    # `sop run` prints "check FAILED: <asset> <check>" for every failed asset check
    failed = [line for line in run.stdout.splitlines() if "check FAILED" in line]
    assert not failed, failed
    assert "analytics/plan_of_record" in run.stdout
