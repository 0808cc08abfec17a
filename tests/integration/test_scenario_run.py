"""`sop scenario run` on the demo (issue 17 item 3): the session's cycle is the base, one scenario
(Snacks +10 %, 8 more hours a week on the tooling T1) runs beside it with the real Dagster, dbt and
DuckDB; the base is untouched, the changes act exactly where declared, scenario_compare agrees with
both serving files and the scenario's pack has its section."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from sop_pipeline.commands.scenario import base_fingerprint
from tests.conftest import REPO, sop

pytestmark = pytest.mark.integration

CHANGE = REPO / "examples" / "scenarios" / "snacks_plus10_saturday.yaml"
NAME = "snacks_plus10_saturday"


@pytest.fixture(scope="module")
def scenario_run(small_cycle):
    base = small_cycle.data
    before = base_fingerprint(base)
    with duckdb.connect(str(small_cycle.serving), read_only=True) as con:
        plan_before = con.execute("select * from plan_of_record order by sku, week_start").df()
    proc = sop("scenario", "run", NAME, "--from", str(base), "--change", str(CHANGE), timeout=3600)
    assert proc.returncode == 0, f"sop scenario run failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return {"proc": proc, "before": before, "plan_before": plan_before, "out": base / "scenarios" / NAME}


def _read(path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).df()


def test_the_base_plan_of_record_and_serving_file_are_untouched(scenario_run, small_cycle):
    assert base_fingerprint(small_cycle.data) == scenario_run["before"]
    after = _read(small_cycle.serving, "select * from plan_of_record order by sku, week_start")
    pd.testing.assert_frame_equal(after, scenario_run["plan_before"])
    assert "base untouched" in scenario_run["proc"].stdout
    assert not (small_cycle.data / "serving" / "sop.duckdb").samefile(scenario_run["out"] / "serving" / "sop.duckdb")


def test_demand_and_hours_change_exactly_where_declared(scenario_run, small_cycle):
    serving = scenario_run["out"] / "serving" / "sop.duckdb"
    sql = "select sku, family, week_start, base_units from demand_override_waterfall order by sku, week_start"
    base, what_if = _read(small_cycle.serving, sql), _read(serving, sql)
    snacks = base.family == "Snacks"
    assert snacks.any() and (~snacks).any()
    # the consensus before overrides: Snacks x 1.1 in weeks 1-13, every other family as in the base
    assert what_if.base_units[snacks].to_numpy() == pytest.approx(1.1 * base.base_units[snacks].to_numpy(), rel=1e-12)
    assert (what_if.base_units[~snacks].to_numpy() == base.base_units[~snacks].to_numpy()).all()
    sql = "select resource_id, week_start, available_hours from datapack_capacity order by resource_id, week_start"
    cap_base, cap_what_if = _read(small_cycle.serving, sql), _read(serving, sql)
    delta = cap_what_if.available_hours - cap_base.available_hours
    t1 = cap_base.resource_id == "T1"
    assert t1.sum() == 13 and delta[t1].to_numpy() == pytest.approx([8.0] * 13)
    assert (delta[~t1] == 0).all()
    # the plan never exceeds the new hours (the blocking capacity check passed) and used some of them
    plan = _read(serving, "select resource_id, week_start, constraint_hours from plan_of_record")
    used = plan[plan.resource_id == "T1"].constraint_hours.sum()
    base_used = _read(
        small_cycle.serving, "select * from plan_of_record where resource_id = 'T1'"
    ).constraint_hours.sum()
    assert used > base_used


def test_scenario_compare_agrees_with_both_serving_files(scenario_run, small_cycle):
    serving = scenario_run["out"] / "serving" / "sop.duckdb"
    cmp = _read(serving, "select * from scenario_compare").set_index(["scope", "key", "metric"]).sort_index()
    assert set(cmp.index.get_level_values("scope")) == {"total", "family", "resource"}
    for path, column in ((small_cycle.serving, "base_value"), (serving, "scenario_value")):
        fam = _read(
            path,
            "select family, sum(revenue) r, sum(margin) m, sum(net_margin) n, sum(demand_units) d "
            "from plan_of_record group by 1",
        )
        for row in fam.itertuples():
            assert cmp.loc[("family", row.family, "revenue"), column] == pytest.approx(row.r, rel=1e-9)
            assert cmp.loc[("family", row.family, "margin"), column] == pytest.approx(row.m, rel=1e-9)
            assert cmp.loc[("family", row.family, "net_margin"), column] == pytest.approx(row.n, rel=1e-9)
        assert cmp.loc[("total", "total", "demand_units"), column] == pytest.approx(fam.d.sum(), rel=1e-9)
    assert cmp.loc[("resource", "T1", "available_hours_13w"), "delta"] == pytest.approx(8.0 * 13)
    snacks = cmp.loc[("family", "Snacks", "revenue")]
    assert snacks.delta == pytest.approx(snacks.scenario_value - snacks.base_value)
    assert snacks.delta_pct == pytest.approx(100 * snacks.delta / snacks.base_value) and snacks.delta > 0
    # the scenario's own pack has the section; the base pack does not
    packs = list((scenario_run["out"] / "reports").glob("sop_pack_*.html"))
    assert len(packs) == 1 and '<section id="scenario"' in packs[0].read_text()
    base_pack = next((small_cycle.data / "reports").glob("sop_pack_*.html"))
    assert '<section id="scenario"' not in base_pack.read_text()


def test_list_and_compare_on_the_terminal_and_a_bad_change_file(scenario_run, small_cycle, tmp_path):
    listed = sop("scenario", "list", "--from", str(small_cycle.data))
    assert listed.returncode == 0 and NAME in listed.stdout and "demand family Snacks +10%" in listed.stdout
    shown = sop("scenario", "compare", NAME, "--from", str(small_cycle.data))
    assert shown.returncode == 0 and "available_hours_13w" in shown.stdout and "Snacks" in shown.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("demand:\n  - family: Snaks\n    change_pct: 10\n")
    proc = sop("scenario", "run", "typo", "--from", str(small_cycle.data), "--change", str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (
        proc.stderr.strip().count("\n") == 0 and "demand[0].family: 'Snaks' is not in this cycle's data" in proc.stderr
    )
    assert not (small_cycle.data / "scenarios" / "typo").exists()
