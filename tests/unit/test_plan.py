"""Plan of record: each decision kind's effect on hand-made fixtures, and capacity feasibility."""

from __future__ import annotations

import pandas as pd
import pytest

from sop_pipeline.analytics import plan
from tests.fixtures.plans import plan_random, random_plan_inputs

WEEKS = pd.to_datetime(["2026-01-05", "2026-01-12", "2026-01-19"])
ITEMS = pd.DataFrame(
    {
        "sku": ["A", "B"],
        "family": ["F", "F"],
        "unit_price": [10.0, 20.0],
        "unit_cost": [6.0, 12.0],
        "make_or_buy": ["make", "make"],
    }
)


def _demand(a=(10, 10, 10), b=(5, 5, 5)) -> pd.DataFrame:
    rows = [(s, w, k + 1, float(u)) for s, units in (("A", a), ("B", b)) for k, (w, u) in enumerate(zip(WEEKS, units))]
    return pd.DataFrame(rows, columns=["sku", "week_start", "horizon_week", "demand_units"]).assign(decision_ids="")


def _decisions(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["decision_id", "kind", "subject", "value", "approved", "decided_at"])


def _m1(hours) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A and B both run on M1 at 1 unit/hour; M1 has `hours` a week (a number or one per week)."""
    routings = pd.DataFrame({"sku": ["A", "B"], "resource_id": "M1", "units_per_hour": 1.0})
    return routings, pd.DataFrame(
        {"resource_id": "M1", "week_start": WEEKS, "hours": pd.Series(hours, index=WEEKS).to_numpy(dtype=float)}
    )


def _plan(
    demand,
    *,
    hours=(100.0, 100.0, 100.0),
    source=None,
    frozen=None,
    frozen_weeks=0,
    inventory=(0, 0),
    safety_stock=(0.0, 0.0),
    **more,
):
    routings, resource_hours = _m1(hours)
    return plan.supply_plan(
        demand,
        ITEMS,
        opening_inventory=pd.Series(inventory, index=["A", "B"], dtype=float),
        safety_stock=pd.Series(safety_stock, index=["A", "B"], dtype=float),
        source=source if source is not None else pd.Series(["make", "make"], index=["A", "B"]),
        routings=routings,
        resource_hours=resource_hours,
        priority=pd.Series([1, 2], index=["A", "B"]),
        frozen_supply=frozen,
        frozen_weeks=frozen_weeks,
        **more,
    )


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
    d, effects = plan.apply_substitutions(
        _demand(), _decisions(("D1", "substitution", "A->B", "through 2026-01-12", "yes", "2026-01-01"))
    )
    b = d[d.sku == "B"].demand_units.tolist()
    a = d[d.sku == "A"].demand_units.tolist()
    assert a == [0, 0, 10] and b == [15, 15, 5]
    assert d[(d.sku == "A") & (d.week_start == WEEKS[0])].decision_ids.iloc[0] == "D1"
    assert "moved 20 units" in effects[0].effect


def test_rejected_decisions_change_nothing():
    d, effects = plan.apply_substitutions(_demand(), _decisions(("D1", "substitution", "A->B", "", "no", "2026-01-01")))
    assert d.demand_units.tolist() == _demand().demand_units.tolist() and effects == []


def test_make_vs_buy_takes_volume_off_the_constraint():
    source, changed, effects = plan.sourcing(ITEMS, _decisions(("D2", "make_vs_buy", "B", "buy", "yes", "2026-01-01")))
    assert source["B"] == "buy" and changed == {"B": "D2"}
    p = _plan(_demand(), hours=(10.0, 10.0, 10.0), source=source)
    b = p[p.sku == "B"]
    assert (b.constraint_hours == 0).all() and (b.supply_units == 5).all() and (b.supply_source == "buy").all()
    assert (p[p.sku == "A"].supply_units == 10).all()


def test_freeze_window_locks_supply_of_the_first_weeks_to_the_previous_plan():
    weeks, decision = plan.freeze_weeks(
        _decisions(
            ("D3", "freeze_window", "P1", "2", "yes", "2026-01-01"),
            ("D4", "freeze_window", "P1", "3", "no", "2026-01-02"),
        )
    )
    assert (weeks, decision) == (2, "D3")
    previous = pd.DataFrame(
        {"sku": ["A", "A", "B", "B"], "week_start": [WEEKS[0], WEEKS[1]] * 2, "supply_units": [7.0, 8.0, 4.0, 4.0]}
    )
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


def _bought_plan(demand, *, receipts=None, lead_time=2.5, waived=None, costs=None, inventory=(0, 0)):
    """A and B bought from a supplier with a `lead_time`-week lead time (new orders from week 3)."""
    routings, resource_hours = _m1(100.0)
    return plan.supply_plan(
        demand,
        ITEMS,
        opening_inventory=pd.Series(inventory, index=["A", "B"], dtype=float),
        safety_stock=pd.Series([0.0, 0.0], index=["A", "B"]),
        source=pd.Series(["buy", "buy"], index=["A", "B"]),
        routings=routings,
        resource_hours=resource_hours,
        priority=pd.Series([1, 2], index=["A", "B"]),
        receipts=receipts,
        lead_time_weeks=pd.Series([lead_time, lead_time], index=["A", "B"]),
        lead_time_waived=waived,
        expedite_costs=costs,
    )


RECEIPTS = pd.DataFrame({"sku": ["A"], "week_start": [WEEKS[2]], "units": [25.0], "order_id": ["PO1/1"]})


def test_bought_items_get_new_supply_only_after_the_lead_time_and_open_orders_count():
    p = _bought_plan(_demand(), receipts=RECEIPTS).set_index(["sku", "week_start"])
    a = p.loc["A"]
    # weeks 1-2 are inside the 2.5-week lead time: nothing new arrives, A runs short
    assert a.supply_units.tolist()[:2] == [0, 0] and a.projected_inventory_units.tolist()[:2] == [-10, -20]
    assert a.loc[WEEKS[0], "service_risk"] == "stockout" and "expedite" in a.loc[WEEKS[0], "notes"]
    # week 3: the open order (25) arrives and a new order covers the rest of the backlog and demand
    assert a.loc[WEEKS[2], "receipts_units"] == 25 and a.loc[WEEKS[2], "supply_units"] == pytest.approx(5)
    assert a.loc[WEEKS[2], "projected_inventory_units"] == pytest.approx(0)
    # no lead-time limit without lead times (the old behaviour)
    assert _plan(_demand()).supply_units.tolist() == _demand().demand_units.tolist()


def test_expedite_pulls_an_open_order_in_and_adds_its_cost():
    ex = plan.apply_expedites(
        _decisions(
            ("D5", "expedite", "PO1", "1200 by 2026-01-06", "yes", "2026-01-01"),
            ("D6", "expedite", "PO9", "50", "yes", "2026-01-01"),
            ("D7", "expedite", "PO1", "80", "no", "2026-01-01"),
        ),
        RECEIPTS,
        None,
        list(WEEKS),
    )
    assert ex.receipts.week_start.tolist() == [WEEKS[0]]
    assert "pulled 25 units of A (PO1) in to the week of 2026-01-05" in ex.effects[0].effect
    assert "neither an expedite nor an open order" in ex.effects[1].effect and len(ex.effects) == 2
    p = _bought_plan(_demand(), receipts=ex.receipts, costs=ex.costs).set_index(["sku", "week_start"]).loc["A"]
    assert p.loc[WEEKS[0], "receipts_units"] == 25 and p.loc[WEEKS[0], "expedite_cost"] == 1200
    assert (p.projected_inventory_units.iloc[:2] >= 0).all() and p.expedite_cost.sum() == 1200
    assert p.loc[WEEKS[0], "net_margin"] == pytest.approx(
        p.loc[WEEKS[0], "margin"] - 1200
    )  # the cost leaves the margin
    assert (p.net_margin.iloc[1:] == p.margin.iloc[1:]).all() and (p.offload_cost == 0).all()


def test_an_approved_cancel_voids_the_expedites_of_its_subject_decided_before_it():
    # D5 pulls PO1 in; D11 (approved later) cancels it: no pull-in, no cost. A cancel with nothing
    # before it (D12 on PO9) changes nothing and says so; a cancel decided before the expedite (D13,
    # then D14) does not void it.
    ex = plan.apply_expedites(
        _decisions(
            ("D5", "expedite", "PO1", "1200 by 2026-01-06", "yes", "2026-01-01"),
            ("D11", "expedite", "PO1", "cancel", "yes", "2026-01-02"),
            ("D12", "expedite", "PO9", "Cancel", "yes", "2026-01-02"),
        ),
        RECEIPTS,
        None,
        list(WEEKS),
    )
    assert ex.receipts.week_start.tolist() == [WEEKS[2]] and ex.costs.empty and ex.pulls.empty
    effects = {e.decision_id: e.effect for e in ex.effects}
    assert effects["D5"] == "cancelled by D11: no pull-in, no expedite cost"
    assert effects["D11"] == "cancels D5 (PO1): no pull-in, no expedite cost"
    assert effects["D12"] == "no effect: no approved expedite of PO9 before it to cancel"
    again = plan.apply_expedites(
        _decisions(
            ("D13", "expedite", "PO1", "cancel", "yes", "2026-01-01"),
            ("D14", "expedite", "PO1", "1200 by 2026-01-06", "yes", "2026-01-02"),
        ),
        RECEIPTS,
        None,
        list(WEEKS),
    )
    assert again.receipts.week_start.tolist() == [WEEKS[0]] and again.costs.expedite_cost.tolist() == [1200]


def test_the_pipeline_proposes_to_cancel_a_pull_in_the_plan_does_not_need():
    from sop_pipeline.analytics import plan_inputs

    rows = _plan(_demand())
    empty_curve = pd.DataFrame(columns=["family", "service_level", "is_current", "is_proposed", "annual_saving"])
    cancel = pd.DataFrame({"subject": ["PO1/1"], "effect": ["D5 pulls 25 units of A in that the plan does not need"]})
    out = plan_inputs.proposals(
        rows,
        pd.DataFrame(columns=["sku", "substitute_sku", "units", "available_from", "promo_id", "reason"]),
        RECEIPTS,
        empty_curve,
        None,
        cancel,
    )
    assert out[out.kind == "expedite"][["subject", "value"]].values.tolist() == [["PO1/1", "cancel"]]


def test_expedite_without_an_open_order_waives_the_lead_time_and_old_ones_do_nothing():
    events = pd.DataFrame(
        {
            "expedite_id": ["EX1", "EX0"],
            "sku": ["B", "B"],
            "order_id": ["", "PO0"],
            "expedite_date": pd.to_datetime(["2026-01-13", "2025-11-01"]),
            "cost": [300.0, 90.0],
        }
    )
    ex = plan.apply_expedites(
        _decisions(
            ("D8", "expedite", "EX1", "", "yes", "2026-01-01"), ("D9", "expedite", "EX0", "90", "yes", "2025-11-01")
        ),
        RECEIPTS,
        events,
        list(WEEKS),
    )
    assert ex.lead_time_waived == {"B": WEEKS[1]}
    by_sku = plan.apply_expedites(
        _decisions(("D10", "expedite", "sku:B", "300 by 2026-01-13", "yes", "2026-01-01")), RECEIPTS, None, list(WEEKS)
    )
    assert by_sku.lead_time_waived == {"B": WEEKS[1]} and by_sku.costs.expedite_cost.tolist() == [300]
    effects = {e.decision_id: e.effect for e in ex.effects}
    assert "before the horizon" in effects["D9"] and "lead time waived" in effects["D8"]
    p = _bought_plan(_demand(), receipts=ex.receipts, waived=ex.lead_time_waived, costs=ex.costs)
    b = p[p.sku == "B"].set_index("week_start")
    assert b.supply_units.tolist() == [0, 10, 5]  # week 2 catches up week 1's shortfall
    assert b.loc[WEEKS[1], "expedite_cost"] == 300


def test_every_resource_of_the_routing_must_have_the_hours():
    # A runs on M1 (1 unit/h) and the shared tooling T1 (2 units/h); B on T1 only (1 unit/h).
    # M1 has room; T1 has 10 h a week: A (10 units = 5 h, served first) leaves 5 h for B's 5.
    routings = pd.DataFrame(
        {"sku": ["A", "A", "B"], "resource_id": ["M1", "T1", "T1"], "units_per_hour": [1.0, 2.0, 1.0]}
    )
    hours = pd.DataFrame(
        {"resource_id": ["M1"] * 3 + ["T1"] * 3, "week_start": list(WEEKS) * 2, "hours": [100.0] * 3 + [8.0] * 3}
    )
    p = plan.supply_plan(
        _demand(),
        ITEMS,
        opening_inventory=pd.Series([0.0, 0.0], index=["A", "B"]),
        safety_stock=pd.Series([0.0, 0.0], index=["A", "B"]),
        source=pd.Series(["make", "make"], index=["A", "B"]),
        priority=pd.Series([1, 2], index=["A", "B"]),
        routings=routings,
        resource_hours=hours,
    )
    week1 = p[p.week_start == WEEKS[0]].set_index("sku")
    # T1: A takes 5 h, B gets the 3 h left -> 3 units; M1 alone would have let B make all 5
    assert week1.loc["A", "supply_units"] == 10 and week1.loc["B", "supply_units"] == pytest.approx(3)
    assert week1.loc["B", "resource_id"] == "T1" and "T1 full" in week1.loc["B", "notes"]
    assert week1.loc["A", "resource_id"] == "T1"  # T1 is the scarcer of A's two resources
    load = plan.resource_load(p, routings, hours)
    assert (load.planned_hours <= load.available_hours + 1e-9).all()
    t1 = load[load.resource_id == "T1"].set_index("week_start")
    assert t1.loc[WEEKS[0], "load_pct"] == pytest.approx(100.0)
    assert p[p.sku == "B"].cut_units.sum() > 0


def test_history_keeps_one_copy_per_cycle_and_takes_new_columns():
    import duckdb

    from sop_pipeline.assets.common import append_history

    con = duckdb.connect()
    append_history(con, "plan_of_record", pd.DataFrame({"cycle_id": ["2026-11-15"], "units": [1.0]}), "2026-11-15")
    newer = pd.DataFrame({"cycle_id": ["2026-11-22"] * 2, "units": [2.0, 3.0], "expedite_cost": [0.0, 5.0]})
    append_history(con, "plan_of_record", newer, "2026-11-22")
    append_history(con, "plan_of_record", newer.assign(units=[4.0, 6.0]), "2026-11-22")  # re-run of the cycle
    rows = con.execute("select cycle_id, units, expedite_cost from history.plan_of_record order by all").fetchall()
    assert rows == [("2026-11-15", 1.0, None), ("2026-11-22", 4.0, 0.0), ("2026-11-22", 6.0, 5.0)]
    with pytest.raises(duckdb.Error):  # a failing insert leaves the cycle's previous copy in place
        append_history(con, "plan_of_record", newer.assign(units=["x", "y"]), "2026-11-22")
    assert con.execute("select count(*) from history.plan_of_record").fetchone()[0] == 3


def test_decision_log_has_raci_statuses_and_one_proposal_per_subject():
    from sop_pipeline.analytics import decisions

    logged = pd.DataFrame(
        {
            "decision_id": ["D1", "D2"],
            "cycle": ["2026-11-15", "2026-11-15"],
            "kind": ["expedite", "freeze_window"],
            "subject": ["PO1", "P1"],
            "value": ["100", "2"],
            "approved": ["yes", "No"],
            "decided_at": pd.to_datetime(["2026-11-16", "2026-11-16"]),
        }
    )
    proposals = pd.DataFrame(
        {
            "kind": ["substitution", "substitution", "make_vs_buy"],
            "subject": ["A->B", "A->B", "A"],
            "value": ["5 units", "7 units", "buy"],
            "effect": ["promo P1", "promo P2", "cut 3"],
        }
    )
    log = decisions.decision_log(logged, proposals, {"D1": "pulled PO1 in"}, "2026-11-22").set_index("decision_id")
    assert log.index.is_unique
    assert log.loc["D1", "status"] == "approved" and log.loc["D1", "effect"] == "pulled PO1 in"
    assert log.loc["D2", "status"] == "rejected" and log.loc["D2", "effect"] == "none: rejected"
    proposed = log[log.status == "proposed"]
    assert len(proposed) == 2 and (proposed.source == "pipeline").all()
    sub = proposed[proposed.kind == "substitution"].iloc[0]
    assert sub.effect == "promo P1; promo P2" and sub.responsible == "Demand planner"
    assert (log.accountable == decisions.ACCOUNTABLE).all()
    assert proposed[proposed.kind == "make_vs_buy"].iloc[0].responsible == "Master scheduler"


def _plan_with(demand, *, inventory=(0, 0), expiring=None, min_lot=None, hours=(100.0, 100.0, 100.0), source=None):
    routings, resource_hours = _m1(hours)
    return plan.supply_plan(
        demand,
        ITEMS,
        opening_inventory=pd.Series(inventory, index=["A", "B"], dtype=float),
        safety_stock=pd.Series([0.0, 0.0], index=["A", "B"]),
        source=source if source is not None else pd.Series(["make", "make"], index=["A", "B"]),
        routings=routings,
        resource_hours=resource_hours,
        priority=pd.Series([1, 2], index=["A", "B"]),
        expiring=expiring,
        min_lot_units=min_lot,
    )


def _balanced(p) -> bool:
    p = p.sort_values(["sku", "week_start"])
    flow = p.supply_units + p.receipts_units - p.demand_units - p.expired_units
    opening = p.groupby("sku").projected_inventory_units.shift().fillna(p.projected_inventory_units - flow)
    return bool(((opening + flow - p.projected_inventory_units).abs() < 1e-9).all())


def test_a_lot_expiring_in_the_horizon_leaves_in_its_expiry_week_after_fefo_use():
    # A opens with 25 units, of which 18 expire at the start of week 3. Demand 10 a week draws the
    # expiring lot first: 18 - 10 (week 1) - 8 (week 2) = 0 left, then 7 non-expiring units.
    # With 15 expiring instead, 15 - 10 - 5 = 0 too; with 25 all expiring: 25 - 20 = 5 expire.
    expiring = pd.DataFrame({"sku": ["A"], "week_start": [WEEKS[2]], "units": [25.0]})
    p = _plan_with(_demand(b=(0, 0, 0)), inventory=(25, 0), expiring=expiring).set_index(["sku", "week_start"])
    a = p.loc["A"]
    assert a.expired_units.tolist() == [0.0, 0.0, 5.0]
    # weeks 1-2 are covered by the opening stock; week 3 needs 10 after the 5 units expire
    assert a.supply_units.tolist() == [0.0, 0.0, 10.0]
    assert a.projected_inventory_units.tolist() == [15.0, 5.0, 0.0]
    assert _balanced(p.reset_index())


def test_stock_used_before_expiry_does_not_expire():
    expiring = pd.DataFrame({"sku": ["A"], "week_start": [WEEKS[2]], "units": [18.0]})
    p = _plan_with(_demand(b=(0, 0, 0)), inventory=(25, 0), expiring=expiring)
    assert p.expired_units.sum() == 0.0 and _balanced(p)


def test_minimum_run_rounds_small_lots_up_and_never_makes_less():
    # A needs 10 a week, the minimum run is 25: week 1 makes 25 (15 carried), week 2 nothing,
    # week 3 needs 5 -> makes 25 again.
    p = _plan_with(_demand(b=(0, 0, 0)), min_lot=pd.Series({"A": 25.0}))
    a = p[p.sku == "A"]
    assert a.supply_units.tolist() == [25.0, 0.0, 25.0]
    assert ((a.supply_units == 0) | (a.supply_units >= 25.0)).all()
    assert a.make_units.tolist() == a.supply_units.tolist() and _balanced(p)


def test_a_week_that_fits_less_than_a_minimum_run_makes_none_and_moves_the_need():
    # 12 h a week at 1 unit/hour; A (10/week) first leaves 2 h, B needs 5 but its minimum run is 4
    # and only 2 fit: B makes nothing that week and the need moves on.
    p = _plan_with(_demand(), hours=(12.0, 12.0, 12.0), min_lot=pd.Series({"B": 4.0}))
    b = p[p.sku == "B"]
    assert ((b.supply_units == 0) | (b.supply_units >= 4.0)).all()
    assert b.supply_units.iloc[0] == 0.0 and b.moved_out_units.iloc[0] == 5.0


def test_make_units_is_zero_for_bought_skus():
    p = _plan_with(_demand(), source=pd.Series(["make", "buy"], index=["A", "B"]))
    assert (p[p.sku == "B"].make_units == 0).all() and (p[p.sku == "B"].supply_units > 0).all()
    assert (p[p.sku == "A"].make_units == p[p.sku == "A"].supply_units).all()


def test_balance_and_start_stock_checks_find_the_breaking_rows():
    expiring = pd.DataFrame({"sku": ["A"], "week_start": [WEEKS[2]], "units": [25.0]})
    p = _plan_with(_demand(b=(0, 0, 0)), inventory=(25, 0), expiring=expiring)
    opening = pd.Series({"A": 25.0, "B": 0.0})
    assert plan.balance_breaks(p, opening).empty
    assert plan.start_stock_breaks(p, opening).empty
    # a plan that opened A with more than the usable stock breaks the start-stock rule
    short = plan.start_stock_breaks(p, pd.Series({"A": 20.0, "B": 0.0}))
    assert short.sku.tolist() == ["A"] and short.opening.iloc[0] == 25.0
    # a projection that does not follow the flow breaks the balance, on that row only
    broken = p.copy()
    broken.loc[(broken.sku == "A") & (broken.week_start == WEEKS[1]), "projected_inventory_units"] += 3.0
    rows = plan.balance_breaks(broken, opening)
    assert [(r.sku, r.week_start) for r in rows.itertuples()] == [("A", WEEKS[1]), ("A", WEEKS[2])]
    text = plan.describe_breaks(rows, "inventory balance")
    assert text.startswith("inventory balance: 2 row(s) break it: A week of 2026-01-12")


def test_revenue_uses_the_demand_selling_price_and_falls_back_to_list_price():
    d = _demand(b=(0, 0, 0)).assign(selling_price=[8.0, float("nan"), 9.0, float("nan"), float("nan"), float("nan")])
    p = _plan_with(d).set_index(["sku", "week_start"]).loc["A"]
    assert p.selling_price.tolist() == [8.0, 10.0, 9.0]  # list price 10 where the forecast has none
    assert p.revenue.tolist() == [80.0, 100.0, 90.0]
    assert p.margin.tolist() == [20.0, 40.0, 30.0]  # unit cost 6


def test_a_weekly_safety_stock_is_the_target_of_its_weeks_only():
    """A seasonal item's safety stock week by week (plan_inputs.seasonal_safety_stock): the plan builds
    to each week's target and publishes it; weeks without a row, and other SKUs, keep the constant one."""
    weekly = pd.DataFrame({"sku": ["A", "A"], "week_start": WEEKS[:2], "safety_stock_units": [2.0, 8.0]})
    p = _plan(_demand(), safety_stock=(5.0, 3.0), safety_stock_weekly=weekly)
    a, b = (p[p.sku == s].sort_values("week_start") for s in ("A", "B"))
    assert a.safety_stock_units.tolist() == [2.0, 8.0, 5.0] and b.safety_stock_units.tolist() == [3.0] * 3
    assert a.projected_inventory_units.tolist() == [2.0, 8.0, 5.0]  # built to each week's target
    assert a.supply_units.tolist() == [12.0, 16.0, 7.0]
    assert (p.service_risk == "ok").all()
    assert a.notes.tolist() == [plan.SEASONAL_SS_NOTE] * 2 + [""] and (b.notes == "").all()


# --------------------------------------------------------------------------- build-ahead


def _ahead(a, hours, **more):
    """A alone (B has no demand) on M1 at 1 unit/hour with `hours` a week."""
    return _plan(_demand(a=a, b=(0, 0, 0)), hours=hours, **more).set_index(["sku", "week_start"]).loc["A"]


def test_a_full_week_is_built_ahead_in_the_latest_earlier_week_with_hours():
    # week 3 needs 150 h of 100: the 50 units that do not fit are made in week 2 (50 h free), not week 1
    a = _ahead((0, 50, 150), (100.0, 100.0, 100.0))
    assert a.supply_units.tolist() == pytest.approx([0, 100, 100])
    assert a.built_ahead_units.tolist() == pytest.approx([0, 50, 0])
    assert (a.moved_out_units == 0).all() and (a.cut_units == 0).all() and (a.service_risk == "ok").all()
    assert "built 50 units ahead for week 3" in a.notes.iloc[1]


def test_stock_built_ahead_is_held_for_its_week_not_netted_against_the_weeks_between():
    # week 2 is full with its own 50 units, so week 3's 50 extra are built in week 1; week 2 must
    # still make its own 50 (the week-1 stock is held for week 3), or week 3 would be short again
    a = _ahead((0, 50, 150), (100.0, 50.0, 100.0))
    assert a.supply_units.tolist() == pytest.approx([50, 50, 100])
    assert a.built_ahead_units.tolist() == pytest.approx([50, 0, 0])
    assert a.projected_inventory_units.tolist() == pytest.approx([50, 50, 0])
    assert (a.cut_units == 0).all()


def test_the_minimum_run_applies_to_a_week_built_ahead():
    a = _ahead((0, 0, 110), (100.0, 100.0, 100.0), min_lot_units=pd.Series({"A": 40.0}))
    # 10 short in week 3 -> a minimum run of 40 in week 2, all held for week 3, which then makes 70
    assert a.supply_units.tolist() == pytest.approx([0, 40, 70])
    assert a.built_ahead_units.tolist() == pytest.approx([0, 40, 0])
    assert a.projected_inventory_units.tolist() == pytest.approx([0, 40, 0])


def test_no_build_ahead_into_frozen_weeks_beyond_shelf_life_or_when_holding_costs_more():
    previous = pd.DataFrame({"sku": ["A", "A"], "week_start": WEEKS[:2], "supply_units": [0.0, 0.0]})
    frozen = _ahead((0, 0, 150), (100.0, 100.0, 100.0), frozen=previous, frozen_weeks=2)
    assert frozen.built_ahead_units.sum() == 0 and frozen.cut_units.iloc[-1] == pytest.approx(50)
    # a third of the shelf life in weeks: 1 week reaches week 2, 0 weeks nothing
    one = _ahead((0, 20, 250), (100.0, 100.0, 100.0), build_ahead_weeks=pd.Series({"A": 1.0}))
    assert one.built_ahead_units.tolist() == pytest.approx([0, 80, 0]) and one.cut_units.iloc[-1] == pytest.approx(70)
    none = _ahead((0, 0, 150), (100.0, 100.0, 100.0), build_ahead_weeks=pd.Series({"A": 0.0}))
    assert none.built_ahead_units.sum() == 0 and none.cut_units.iloc[-1] == pytest.approx(50)
    # holding a unit 2 weeks at 25 %/year of its cost 6 is ~0.06; a margin of 0.05 makes that dearer
    thin = ITEMS.assign(unit_price=[6.05, 20.0])
    routings, resource_hours = _m1((100.0, 100.0, 100.0))
    p = plan.supply_plan(
        _demand(a=(0, 100, 150), b=(0, 0, 0)),
        thin,
        opening_inventory=pd.Series(0.0, index=["A", "B"]),
        safety_stock=pd.Series(0.0, index=["A", "B"]),
        source=pd.Series("make", index=["A", "B"]),
        routings=routings,
        resource_hours=resource_hours,
        priority=pd.Series([1, 2], index=["A", "B"]),
        holding_rate=2.0,  # 2 weeks: 6 x 2.0 x 2 / 52 = 0.46 > 0.05
    )
    assert p.built_ahead_units.sum() == 0 and p.cut_units.sum() == pytest.approx(50)


def test_avoidable_shortfalls_finds_a_short_week_with_free_hours_before_it():
    routings, resource_hours = _m1((100.0, 100.0, 100.0))
    short = _plan(_demand(a=(0, 0, 150), b=(0, 0, 0)), build_ahead_weeks=pd.Series({"A": 0.0}))
    found = plan.avoidable_shortfalls(short, ITEMS, routings, resource_hours)
    assert found[["sku", "short_units", "earlier_week", "units_free"]].values.tolist() == [["A", 50.0, WEEKS[1], 100.0]]
    assert "earlier_week=" + str(WEEKS[1].date()) in plan.describe_breaks(found, "x")
    # the same plan within its shelf-life limit, and the plan that builds ahead, pass
    assert plan.avoidable_shortfalls(
        short, ITEMS, routings, resource_hours, build_ahead_weeks=pd.Series({"A": 0.0})
    ).empty
    built = _plan(_demand(a=(0, 0, 150), b=(0, 0, 0)))
    assert plan.avoidable_shortfalls(built, ITEMS, routings, resource_hours).empty
    # a minimum run that does not fit in the free hours of a week the SKU does not make is no avoidable shortfall
    full = _plan(_demand(a=(0, 0, 150), b=(0, 0, 0)), hours=(30.0, 30.0, 100.0), min_lot_units=pd.Series({"A": 40.0}))
    assert full.cut_units.sum() == pytest.approx(50)
    assert plan.avoidable_shortfalls(
        full, ITEMS, routings, _m1((30.0, 30.0, 100.0))[1], None, pd.Series({"A": 40.0})
    ).empty
    assert len(plan.avoidable_shortfalls(full, ITEMS, routings, _m1((30.0, 30.0, 100.0))[1]))  # without the minimum run


def _random_plan(n: int, seed: int):
    """The plan of a random instance (tests/fixtures/plans.py, shared with benchmarks/build_ahead.py)."""
    inst = random_plan_inputs(n, seed)
    p, offloads = plan_random(inst)
    return p, offloads, inst["items"], inst["routings"], inst["hours"], inst["min_lot"], inst["limit"]


@pytest.mark.parametrize("seed", [1, 2, 7, 9])  # 1: 2 of 50 tranches dropped as unneeded, 3 rounds; 7: 1 dropped
def test_build_ahead_on_random_plans_keeps_every_rule(seed):
    p, offloads, items, routings, hours, min_lot, limit = _random_plan(50, seed)
    assert p.attrs["build_ahead_settled"] and p.built_ahead_units.sum() > 0 and p.moved_out_units.sum() > 0
    assert plan.avoidable_shortfalls(p, items, routings, hours, offloads, min_lot, build_ahead_weeks=limit).empty
    load = plan.resource_load(p, routings, hours, offloads)
    assert (load.planned_hours <= load.available_hours + 1e-6).all()
    opening = (p.projected_inventory_units - p.supply_units + p.demand_units)[p.horizon_week == 1]
    assert plan.balance_breaks(p, pd.Series(opening.to_numpy(), index=p.sku[p.horizon_week == 1])).empty
    assert (p.built_ahead_units <= p.supply_units + 1e-9).all()
    # every week a row built ahead for is within the SKU's shelf-life limit and has no room for the
    # units (at least a minimum run where the SKU makes nothing there): a week's tranche is at most
    # the row's units built ahead, so room below the row's units is the bound we can read
    free = load.set_index(["resource_id", "week_start"]).eval("available_hours - planned_hours")
    rows = p.set_index(["sku", "horizon_week"])
    for r in p[p.built_ahead_units > 0].itertuples():
        for h in (int(x) for x in r.notes.split("ahead for week ")[1].split(" (")[0].split(", ")):
            assert 0 < h - r.horizon_week <= limit[r.sku]
            target = rows.loc[(r.sku, h)]
            least = r.built_ahead_units if target.supply_units > 1e-6 else max(r.built_ahead_units, min_lot[r.sku])
            room = min(
                free[(res, target.week_start)] * rate
                for res, rate in routings[routings.sku == r.sku][["resource_id", "units_per_hour"]].values
            )
            assert room < least + 1e-6


def test_a_pull_in_the_plan_did_not_need_is_named_with_its_cover():
    # 100 units of A pulled from week 3 into week 1. Projected stock with them 400, 350 (weeks 1-2)
    # over a safety stock of 200: without them 300, 250, still above -> not needed (lowest cover 50).
    # B: 150 pulled from week 2 into week 1, stock with them 300 over a safety stock of 200: without
    # them 150 < 200 -> needed.
    weeks = pd.to_datetime(["2026-11-23", "2026-11-30", "2026-12-07"])
    rows = pd.DataFrame(
        {
            "sku": ["A"] * 3 + ["B"] * 3,
            "week_start": list(weeks) * 2,
            "projected_inventory_units": [400.0, 350.0, 300.0, 300.0, 280.0, 260.0],
            "safety_stock_units": [200.0] * 6,
        }
    )
    pulls = pd.DataFrame(
        {
            "decision_id": ["D1", "D2"],
            "sku": ["A", "B"],
            "units": [100.0, 150.0],
            "week_start": [weeks[0], weeks[0]],
            "original_week_start": [weeks[2], weeks[1]],
            "cost": [500.0, 300.0],
        }
    )
    out = plan.expedites_not_needed(rows, pulls)
    assert out.decision_id.tolist() == ["D1"]
    assert out.lowest_cover_units.iloc[0] == pytest.approx(50.0) and out.cost.tolist() == [500.0]
    assert plan.expedites_not_needed(rows, pulls.iloc[:0]).empty
