"""Plan of record: each decision kind's effect on hand-made fixtures, and capacity feasibility."""

from __future__ import annotations

import pandas as pd
import pytest

from sop_pipeline.analytics import plan

WEEKS = pd.to_datetime(["2026-01-05", "2026-01-12", "2026-01-19"])
ITEMS = pd.DataFrame({"sku": ["A", "B"], "family": ["F", "F"], "unit_price": [10.0, 20.0],
                      "unit_cost": [6.0, 12.0], "make_or_buy": ["make", "make"]})


def _demand(a=(10, 10, 10), b=(5, 5, 5)) -> pd.DataFrame:
    rows = [(s, w, k + 1, float(u)) for s, units in (("A", a), ("B", b)) for k, (w, u) in enumerate(zip(WEEKS, units))]
    return pd.DataFrame(rows, columns=["sku", "week_start", "horizon_week", "demand_units"]).assign(decision_ids="")


def _decisions(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["decision_id", "kind", "subject", "value", "approved", "decided_at"])


def _plan(demand, *, hours=(100.0, 100.0, 100.0), source=None, frozen=None, frozen_weeks=0, inventory=(0, 0)):
    return plan.supply_plan(
        demand, ITEMS, opening_inventory=pd.Series(inventory, index=["A", "B"], dtype=float),
        safety_stock=pd.Series([0.0, 0.0], index=["A", "B"]),
        source=source if source is not None else pd.Series(["make", "make"], index=["A", "B"]),
        constraint_rate=pd.Series([1.0, 1.0], index=["A", "B"]),
        constraint_hours=pd.Series(hours, index=WEEKS), constraint_id="M1",
        priority=pd.Series([1, 2], index=["A", "B"]), frozen_supply=frozen, frozen_weeks=frozen_weeks)


def test_enough_capacity_supplies_exactly_the_demand():
    p = _plan(_demand())
    assert p.supply_units.tolist() == p.demand_units.tolist()
    assert (p.projected_inventory_units == 0).all() and (p.cut_units == 0).all()


def test_overloaded_constraint_is_never_exceeded_and_says_what_moved_and_was_cut():
    p = _plan(_demand(), hours=(12.0, 12.0, 12.0))  # 15 units needed per week at 1 unit/hour
    hours = p.groupby("week_start").constraint_hours.sum()
    assert (hours <= 12.0 + 1e-9).all()
    # priority: A (10/week) is served first, B gets the remaining 2 hours
    week1 = p[p.week_start == WEEKS[0]].set_index("sku")
    assert week1.loc["A", "supply_units"] == 10 and week1.loc["B", "supply_units"] == 2
    assert week1.loc["B", "moved_out_units"] == 3 and "moved" in week1.loc["B", "notes"]
    last_b = p[(p.sku == "B") & (p.week_start == WEEKS[-1])].iloc[0]
    assert last_b.cut_units > 0 and last_b.service_risk == "stockout"


def test_substitution_moves_demand_in_the_covered_weeks_only():
    d, effects = plan.apply_substitutions(_demand(), _decisions(
        ("D1", "substitution", "A->B", "through 2026-01-12", "yes", "2026-01-01")))
    b = d[d.sku == "B"].demand_units.tolist()
    a = d[d.sku == "A"].demand_units.tolist()
    assert a == [0, 0, 10] and b == [15, 15, 5]
    assert d[(d.sku == "A") & (d.week_start == WEEKS[0])].decision_ids.iloc[0] == "D1"
    assert "moved 20 units" in effects[0].effect


def test_rejected_decisions_change_nothing():
    d, effects = plan.apply_substitutions(_demand(), _decisions(
        ("D1", "substitution", "A->B", "", "no", "2026-01-01")))
    assert d.demand_units.tolist() == _demand().demand_units.tolist() and effects == []


def test_make_vs_buy_takes_volume_off_the_constraint():
    source, changed, effects = plan.sourcing(ITEMS, _decisions(("D2", "make_vs_buy", "B", "buy", "yes", "2026-01-01")))
    assert source["B"] == "buy" and changed == {"B": "D2"}
    p = _plan(_demand(), hours=(10.0, 10.0, 10.0), source=source)
    b = p[p.sku == "B"]
    assert (b.constraint_hours == 0).all() and (b.supply_units == 5).all() and (b.supply_source == "buy").all()
    assert (p[p.sku == "A"].supply_units == 10).all()


def test_freeze_window_locks_supply_of_the_first_weeks_to_the_previous_plan():
    weeks, decision = plan.freeze_weeks(_decisions(
        ("D3", "freeze_window", "P1", "2", "yes", "2026-01-01"),
        ("D4", "freeze_window", "P1", "3", "no", "2026-01-02")))
    assert (weeks, decision) == (2, "D3")
    previous = pd.DataFrame({"sku": ["A", "A", "B", "B"], "week_start": [WEEKS[0], WEEKS[1]] * 2,
                             "supply_units": [7.0, 8.0, 4.0, 4.0]})
    p = _plan(_demand(), frozen=previous, frozen_weeks=weeks)
    a = p[p.sku == "A"].set_index("week_start")
    assert a.loc[WEEKS[0], "supply_units"] == 7 and a.loc[WEEKS[1], "supply_units"] == 8
    assert a.loc[WEEKS[0], "supply_source"] == "frozen"
    # week 3 is free again and catches up the shortfall of the frozen weeks (10 - 7 + 10 - 8 + 10)
    assert a.loc[WEEKS[2], "supply_units"] == pytest.approx(15)


def test_family_roll_up_reconciles():
    p = _plan(_demand())
    assert plan.plan_totals_reconcile(p)
    assert p.revenue.sum() == pytest.approx(30 * 10 + 15 * 20)
