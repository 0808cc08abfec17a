"""Scenarios (issue 17 item 3): the change file, each change's effect computed by hand, the compare."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sop_pipeline.analytics import plan, safety_stock as ss, scenario
from sop_pipeline.resources import ScenarioConfig

REPO = Path(__file__).resolve().parents[2]
WEEKS = pd.date_range("2026-11-23", periods=13, freq="7D")
ISSUE_FORM = """\
demand:                 # sku: X, family: Y, or family: "*" for all
  - family: Snacks
    change_pct: 10
    weeks: [1, 13]      # optional horizon weeks
resources:
  - resource_id: T1
    hours_per_week_delta: 8
"""


def _spec(text: str, tmp_path: Path, name: str = "s") -> dict:
    path = tmp_path / "change.yaml"
    path.write_text(text)
    return scenario.parse_change_file(path, name=name)


def _error(text: str, tmp_path: Path) -> str:
    with pytest.raises(scenario.ScenarioError) as info:
        _spec(text, tmp_path)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


# --------------------------------------------------------------------------- change file


def test_the_issue_form_is_accepted_as_written(tmp_path):
    spec = _spec(ISSUE_FORM, tmp_path, "snacks")
    assert spec["demand"] == [{"family": "Snacks", "sku": None, "change_pct": 10.0, "weeks": [1, 13]}]
    assert spec["resources"] == [{"resource_id": "T1", "hours_per_week_delta": 8.0, "weeks": None}]
    # the run config of the same job carries it, and reads back to the same spec
    assert ScenarioConfig.from_spec(spec, "/x/sop.duckdb").spec() == spec


def test_the_example_change_file_is_valid():
    spec = scenario.parse_change_file(REPO / "examples" / "scenarios" / "snacks_plus10_saturday.yaml", name="ex")
    assert spec["demand"] and spec["resources"]


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "demand:\n  - family: Snacks\n    change_pct: ten\n",
            "line 3: demand[0].change_pct: expected a number, got 'ten'",
        ),
        (
            "resources:\n  - resource_id: T1\n    hours_per_weak_delta: 8\n",
            "line 3: resources[0].hours_per_weak_delta: unknown key",
        ),
        (
            "demand:\n  - family: Snacks\n    sku: X\n    change_pct: 5\n",
            "line 2: demand[0]: give exactly one of sku or family",
        ),
        (
            "demand:\n  - family: Snacks\n    change_pct: 5\n    weeks: [4, 2]\n",
            "line 4: demand[0].weeks: expected [from, to]",
        ),
        ("demand:\n  - family: Snacks\n    change_pct: 5\n    weeks: [1, 14]\n", "line 4: demand[0].weeks"),
        ("demand:\n  - family: Snacks\n    change_pct: -100\n", "line 3: demand[0].change_pct: must be above -100"),
        ("resources:\n  - hours_per_week_delta: 8\n", "line 2: resources[0]: missing key resource_id"),
        ("demnad:\n  - family: Snacks\n", "line 1: demnad: unknown section"),
        (
            "suppliers:\n  - supplier_id: S1\n",
            "suppliers[0]: give exactly one of lead_time_days or lead_time_delta_days",
        ),
        ("service_target:\n  target_pct: 120\n", "line 2: service_target[0].target_pct: must be a service level"),
        ("make_vs_buy:\n  - sku: A\n    choice: rent\n", "line 3: make_vs_buy[0].choice: must be make or buy"),
        ("demand: [\n", "not valid YAML"),
        ("", "no changes"),
    ],
)
def test_a_bad_change_file_is_one_line_naming_the_file_line_and_key(tmp_path, text, expected):
    message = _error(text, tmp_path)
    assert message.startswith(f"change file {tmp_path / 'change.yaml'}")
    assert expected in message


def test_names_the_cycle_does_not_have_are_refused(tmp_path):
    spec = _spec(ISSUE_FORM, tmp_path)
    scenario.check_names(spec, {"Snacks", "Drinks"}, {"A"}, {"T1", "M1"}, None)  # all known: fine
    with pytest.raises(scenario.ScenarioError, match=r"demand\[0\]\.family: 'Snacks' is not in this cycle's data"):
        scenario.check_names(spec, {"Drinks"}, {"A"}, {"T1"}, None)
    with pytest.raises(scenario.ScenarioError, match=r"resources\[0\]\.resource_id: 'T1'"):
        scenario.check_names(spec, {"Snacks"}, {"A"}, {"M1"}, None)


# --------------------------------------------------------------------------- demand, by hand


def _consensus() -> pd.DataFrame:
    rows = [
        (s, w, k + 1, units, "consensus")
        for s, units in (("A", 100.0), ("B", 50.0), ("C", 20.0))
        for k, w in enumerate(WEEKS)
    ]
    return pd.DataFrame(rows, columns=["sku", "week_start", "horizon_week", "demand_units", "demand_source"])


FAMILIES = pd.Series({"A": "Snacks", "B": "Snacks", "C": "Drinks"})


def test_plus_10_pct_on_a_family_in_weeks_2_to_4_by_hand(tmp_path):
    spec = _spec("demand:\n  - family: Snacks\n    change_pct: 10\n    weeks: [2, 4]\n", tmp_path)
    out = scenario.apply_demand(_consensus(), FAMILIES, spec).set_index(["sku", "horizon_week"]).demand_units
    assert out["A", 1] == 100.0 and out["A", 2] == pytest.approx(110.0) and out["A", 4] == pytest.approx(110.0)
    assert out["A", 5] == 100.0 and out["B", 3] == pytest.approx(55.0)
    assert (out["C"] == 20.0).all()  # another family: unchanged


def test_the_most_specific_demand_change_wins(tmp_path):
    text = 'demand:\n  - family: "*"\n    change_pct: -50\n  - family: Snacks\n    change_pct: 10\n  - sku: A\n    change_pct: 20\n'
    out = scenario.apply_demand(_consensus(), FAMILIES, _spec(text, tmp_path)).groupby("sku").demand_units.first()
    assert out.to_dict() == pytest.approx({"A": 120.0, "B": 55.0, "C": 10.0})


def test_plus_10_pct_demand_with_ample_capacity_plans_10_pct_more_of_that_sku_only(tmp_path):
    """The plan (analytics.plan.supply_plan) on the scenario's demand: A, B (Snacks) and C (Drinks) are
    made on M1 with 1,000 hours a week (ample), no stock, no safety stock, so planned supply is the
    demand: A goes from 100 to 110 units in every week 1-13, C (another family) stays at 20."""
    spec = _spec("demand:\n  - family: Snacks\n    change_pct: 10\n    weeks: [1, 13]\n", tmp_path)
    items = pd.DataFrame(
        {
            "sku": ["A", "B", "C"],
            "family": ["Snacks", "Snacks", "Drinks"],
            "unit_price": 10.0,
            "unit_cost": 6.0,
            "make_or_buy": "make",
        }
    )

    def planned(demand):
        return plan.supply_plan(
            demand.assign(decision_ids=""),
            items,
            opening_inventory=pd.Series(0.0, index=items.sku),
            safety_stock=pd.Series(0.0, index=items.sku),
            source=pd.Series("make", index=items.sku),
            priority=pd.Series([1, 2, 3], index=items.sku),
            routings=pd.DataFrame({"sku": ["A", "B", "C"], "resource_id": "M1", "units_per_hour": 1.0}),
            resource_hours=pd.DataFrame({"resource_id": "M1", "week_start": WEEKS, "hours": 1000.0}),
        ).set_index(["sku", "horizon_week"])

    base = planned(_consensus()[["sku", "week_start", "horizon_week", "demand_units"]])
    what_if = planned(
        scenario.apply_demand(_consensus(), FAMILIES, spec)[["sku", "week_start", "horizon_week", "demand_units"]]
    )
    assert base.loc["A"].supply_units.tolist() == [100.0] * 13
    assert what_if.loc["A"].supply_units.tolist() == pytest.approx([110.0] * 13)
    assert what_if.loc["C"].supply_units.tolist() == base.loc["C"].supply_units.tolist() == [20.0] * 13
    assert what_if.loc["A"].revenue.sum() == pytest.approx(1.1 * base.loc["A"].revenue.sum())


# --------------------------------------------------------------------------- resource hours, by hand


def _capacity() -> pd.DataFrame:
    rows = []
    for w in WEEKS:
        rows.append(("T1", "tooling", w, 80.0, 84.0))
        rows.append(("M1", "machine", w, 78.0, 60.0))
    cap = pd.DataFrame(rows, columns=["resource_id", "type", "week_start", "available_hours", "required_hours"])
    cap["load_pct"] = 100 * cap.required_hours / cap.available_hours
    cap["is_bottleneck"] = cap.resource_id == "T1"
    return cap


def test_resource_hours_delta_changes_available_hours_by_exactly_that_in_its_weeks(tmp_path):
    spec = _spec("resources:\n  - resource_id: T1\n    hours_per_week_delta: 8\n    weeks: [1, 4]\n", tmp_path)
    base = _capacity()
    out = scenario.apply_resource_hours(base, list(WEEKS), spec)
    delta = (out.available_hours - base.available_hours).groupby([out.resource_id, out.week_start]).sum()
    assert delta["T1"].tolist() == [8.0] * 4 + [0.0] * 9
    assert (delta["M1"] == 0).all()
    week1 = out[out.week_start == WEEKS[0]].set_index("resource_id")
    assert week1.load_pct["T1"] == pytest.approx(100 * 84 / 88)
    # T1 at 95.5% is still the bottleneck over M1 at 76.9%; with +40 hours M1 becomes it
    assert week1.is_bottleneck["T1"] and not week1.is_bottleneck["M1"]
    more = scenario.apply_resource_hours(
        base, list(WEEKS), _spec("resources:\n  - resource_id: T1\n    hours_per_week_delta: 40\n", tmp_path)
    )
    assert more[more.is_bottleneck].resource_id.unique().tolist() == ["M1"]
    assert scenario.apply_resource_hours(base, list(WEEKS), None) is base  # base cycle: untouched


# --------------------------------------------------------------------------- supplier, service target, make/buy


def test_supplier_lead_time_moves_only_its_bought_skus(tmp_path):
    lead = pd.DataFrame({"sku": ["A", "A", "B", "C"], "lead_time_days": [10.0, 14.0, 21.0, 7.0]})
    po = pd.DataFrame(
        {
            "po_id": ["P1", "P2", "P3", "P4"],
            "sku": ["A", "A", "B", "C"],
            "supplier_id": ["S2", "S1", "S1", "S1"],  # A's latest PO is with S1
            "order_date": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-01-01", "2026-01-01"]),
        }
    )
    bought = {"A", "B"}  # C is made: its observations are production times
    set_to = scenario.apply_lead_times(
        lead, po, bought, _spec("suppliers:\n  - supplier_id: S1\n    lead_time_days: 30\n", tmp_path)
    )
    assert set_to.lead_time_days.tolist() == [28.0, 32.0, 30.0, 7.0]  # A's mean 12 -> 30, spread kept
    delta = scenario.apply_lead_times(
        lead, po, bought, _spec("suppliers:\n  - supplier_id: S1\n    lead_time_delta_days: 7\n", tmp_path)
    )
    assert delta.lead_time_days.tolist() == [17.0, 21.0, 28.0, 7.0]


def test_service_target_and_make_vs_buy_become_approved_decisions_of_the_cycle(tmp_path):
    spec = _spec(
        "service_targets:\n  - class: A\n    target_pct: 99\n  - family: Snacks\n    target_pct: 97.5\n"
        "make_vs_buy:\n  - sku: A\n    choice: buy\n",
        tmp_path,
    )
    staged = pd.DataFrame(
        {
            "cycle_date": pd.to_datetime(["2026-11-01"]),
            "kind": ["make_vs_buy"],
            "subject": ["A"],
            "decision_value": ["make"],
            "approved": ["yes"],
            "decided_at": pd.to_datetime(["2026-11-01 10:00"]),
        }
    )
    out = scenario.scenario_decisions(staged, pd.Timestamp("2026-11-22").date(), spec)
    assert len(out) == 4 and out.decision_id.tolist()[1:] == ["scenario:s:1", "scenario:s:2", "scenario:s:3"]
    log = out.rename(columns={"cycle_date": "cycle", "decision_value": "value"})
    assert ss.service_target_overrides(log, cycle="2026-11-22") == {"abc:A": 0.99, "family:Snacks": 0.975}
    # the scenario's buy is the latest make_vs_buy decision of A: the plan's sourcing buys A
    source, changed, _ = plan.sourcing(
        pd.DataFrame({"sku": ["A", "B"], "make_or_buy": ["make", "make"]}), log.sort_values("decided_at")
    )
    assert source.to_dict() == {"A": "buy", "B": "make"} and changed == {"A": "scenario:s:3"}
    every = scenario.scenario_decisions(
        staged, pd.Timestamp("2026-11-22").date(), _spec("service_target:\n  target_pct: 98\n", tmp_path)
    )
    assert sorted(every.subject[1:]) == ["abc:A", "abc:B", "abc:C"]
    assert scenario.scenario_decisions(staged, "2026-11-22", None) is staged


# --------------------------------------------------------------------------- compare, by hand


def _plan_rows(demand_a=(10.0, 10.0), inv_a=(5.0, -3.0)) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sku": ["A", "A", "B", "B"],
            "family": ["Snacks", "Snacks", "Drinks", "Drinks"],
            "horizon_week": [1, 2, 1, 2],
            "demand_units": [*demand_a, 4.0, 4.0],
            "revenue": [d * 10 for d in demand_a] + [40.0, 40.0],
            "margin": [d * 4 for d in demand_a] + [8.0, 8.0],
            "net_margin": [d * 4 for d in demand_a] + [8.0, 3.0],  # B's week 2 took on a 5.0 expedite
            "cut_units": 0.0,
            "built_ahead_units": [0.0, 0.0, 3.0, 0.0],
            "projected_inventory_units": [*inv_a, 2.0, 6.0],
            "service_risk": ["ok", "stockout" if inv_a[1] < 0 else "ok", "ok", "ok"],
            "resource_id": ["T1", "T1", "", ""],
            "constraint_hours": [5.0, 5.0, 0.0, 0.0],
        }
    )


def test_figures_and_compare_by_hand():
    cap = pd.DataFrame(
        {
            "resource_id": ["T1", "T1", "M1", "M1"],
            "week_start": [*WEEKS[:2], *WEEKS[:2]],
            "available_hours": [20.0, 20.0, 10.0, 10.0],
            "required_hours": [30.0, 30.0, 5.0, 5.0],
        }
    )
    cash = pd.DataFrame({"week_start": WEEKS[:2], "working_capital": [100.0, 120.0], "cash_tied_up": [10.0, 20.0]})
    sequence = pd.DataFrame({"resource_id": ["T1", "T1"], "week_start": WEEKS[:2], "required_hours": [5.0, 5.0]})
    base = scenario.figures(_plan_rows(inv_a=(5.0, 1.0)), cap, cash, sequence)
    what_if = scenario.figures(_plan_rows(demand_a=(11.0, 11.0), inv_a=(5.0, -3.0)), cap, cash, sequence)
    out = scenario.compare(base, what_if, "s", "2026-11-22").set_index(["scope", "key", "metric"]).sort_index()
    snacks = out.loc["family", "Snacks"]
    assert snacks.loc["revenue", "base_value"] == 200.0 and snacks.loc["revenue", "scenario_value"] == 220.0
    assert snacks.loc["revenue", "delta_pct"] == pytest.approx(10.0)
    # week 2: A's backlog grows from 0 to 3 -> 3 of 22 units unmet: fill rate 100 * 19/22
    assert snacks.loc["projected_fill_rate_pct", "scenario_value"] == pytest.approx(100 * 19 / 22)
    assert snacks.loc["stockout_sku_weeks", "delta"] == 1.0
    # inventory value at the end (week 2) at cost (revenue - margin) / units = 6: A 1 x 6 -> 0
    assert snacks.loc["inventory_value_end", "base_value"] == pytest.approx(6.0)
    assert snacks.loc["inventory_value_end", "scenario_value"] == 0.0
    assert out.loc["family", "Drinks"].loc["net_margin", "base_value"] == pytest.approx(11.0)  # 16 - the expedite
    assert snacks.loc["net_margin", "scenario_value"] == pytest.approx(88.0)
    no_net = scenario.figures(_plan_rows().drop(columns="net_margin"), cap, cash, sequence)
    assert "net_margin" not in set(no_net.metric)  # an older plan without it: not made up from the margin
    assert out.loc["family", "Drinks"].loc["built_ahead_units", "base_value"] == 3.0
    assert "built_ahead_units" not in set(
        scenario.figures(_plan_rows().drop(columns="built_ahead_units"), cap, cash).metric
    )
    total = out.loc["total", "total"]
    assert total.loc["revenue", "scenario_value"] == 300.0 and total.loc["working_capital_end", "base_value"] == 120.0
    t1 = out.loc["resource", "T1"]
    assert (
        t1.loc["available_hours_13w", "scenario_value"] == 40.0 and t1.loc["capacity_load_pct", "base_value"] == 150.0
    )
    assert t1.loc["planned_hours_13w", "scenario_value"] == 10.0 and t1.loc["plan_load_pct", "scenario_value"] == 25.0
    # M1 is not sequenced: its capacity load only
    assert set(out.loc["resource", "M1"].index) == {"available_hours_13w", "capacity_load_pct"}
    # with the plan's load in the capacity mart (plan_hours), every resource has it, the sequence aside
    with_plan = scenario.figures(_plan_rows(), cap.assign(plan_hours=[6.0] * len(cap)), cash, sequence)
    got = with_plan.set_index(["scope", "key", "metric"]).value
    for rid in cap.resource_id.unique():
        hours = 6.0 * int((cap.resource_id == rid).sum())
        assert got[("resource", rid, "planned_hours_13w")] == hours
        assert got[("resource", rid, "plan_load_pct")] == pytest.approx(
            100 * hours / cap[cap.resource_id == rid].available_hours.sum()
        )
    assert np.isnan(out.loc["family", "Drinks"].loc["cut_units", "delta_pct"])  # base 0: no %


def test_the_sequence_calendar_gets_the_extra_hours(tmp_path):
    resources = pd.DataFrame({"resource_id": ["T1", "M1"], "hours_per_day": [16.0, 16.0], "days_per_week": [5.0, 5.0]})
    spec = _spec("resources:\n  - resource_id: T1\n    hours_per_week_delta: 8\n", tmp_path)
    out = scenario.apply_shift_calendar(resources, spec).set_index("resource_id")
    assert out.days_per_week.to_dict() == {"T1": 5.5, "M1": 5.0}  # a Saturday of 8 hours
    from sop_pipeline.analytics.capacity import shift_calendar

    assert shift_calendar(WEEKS[0], 16.0, out.days_per_week["T1"]).hours == pytest.approx(88.0)
