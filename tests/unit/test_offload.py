"""Alternate resources: the plan offloads to an alternate before moving or cutting (hand-checked)."""

from __future__ import annotations

import pandas as pd
import pytest

from sop_pipeline.analytics import decisions as decision_log_lib, offload, plan

WEEKS = pd.to_datetime(["2026-01-05", "2026-01-12"])
ITEMS = pd.DataFrame(
    {"sku": ["A", "B"], "family": "F", "unit_price": [30.0, 30.0], "unit_cost": [10.0, 10.0], "make_or_buy": "make"}
)
# A: 10 units/h on M1 (cost 100/h = 10 per unit) and 20 units/h on the labour pool L1.
# B: 5 units/h on M2 (its primary machine). M2 is A's alternate at half A's M1 rate: 5 units/h,
# cost 60/h = 12 per unit, so each offloaded unit costs 2 more.
PRIMARY = pd.DataFrame(
    {
        "sku": ["A", "A", "B"],
        "resource_id": ["M1", "L1", "M2"],
        "units_per_hour": [10.0, 20.0, 5.0],
        "cost_per_hour": [100.0, 0.0, 60.0],
        "cost_per_unit": [0.0, 0.0, 0.0],
    }
)
ALTERNATES = pd.DataFrame(
    {
        "sku": ["A"],
        "resource_id": ["M2"],
        "units_per_hour": [5.0],
        "priority": [2],
        "alternate_for": ["M1"],
        "cost_per_hour": [60.0],
        "cost_per_unit": [0.0],
    }
)


def _hours(m1=40.0, m2=30.0, l1=100.0, m3=0.0) -> pd.DataFrame:
    rows = [(r, w, h) for w in WEEKS for r, h in (("M1", m1), ("M2", m2), ("L1", l1), ("M3", m3))]
    return pd.DataFrame(rows, columns=["resource_id", "week_start", "hours"])


def _demand(a=(500.0, 0.0), b=(50.0, 0.0)) -> pd.DataFrame:
    rows = [(s, w, k + 1, u) for s, units in (("A", a), ("B", b)) for k, (w, u) in enumerate(zip(WEEKS, units))]
    return pd.DataFrame(rows, columns=["sku", "week_start", "horizon_week", "demand_units"]).assign(decision_ids="")


def _run(hours, alternates=ALTERNATES, demand=None, min_lot=None):
    routes, ignored = offload.alternate_routes(PRIMARY, alternates)
    assert ignored.empty
    p, moved = plan.supply_plan_and_offloads(
        demand if demand is not None else _demand(),
        ITEMS,
        opening_inventory=pd.Series(0.0, index=["A", "B"]),
        safety_stock=pd.Series(0.0, index=["A", "B"]),
        source=pd.Series("make", index=["A", "B"]),
        priority=pd.Series([1, 2], index=["A", "B"]),  # A is served first
        routings=PRIMARY[["sku", "resource_id", "units_per_hour"]],
        resource_hours=hours,
        alternates=routes,
        min_lot_units=min_lot,
    )
    return p.set_index(["sku", "week_start"]), moved


def test_the_alternate_at_half_rate_absorbs_a_bottleneck_full_by_10_hours():
    # A needs 500 units = 50 h on M1, which has 40 h: full by 10 h = 100 units. Those 100 units
    # take 100 / 5 = 20 h on M2. B's own 50 units take 10 h on M2 first (B comes after A in the
    # plan's priority, but an alternate's own primary load comes first): 30 - 10 = 20 h free.
    p, moved = _run(_hours())
    a1 = p.loc[("A", WEEKS[0])]
    assert a1.supply_units == pytest.approx(500.0) and a1.moved_out_units == 0 and a1.cut_units == 0
    assert p.loc[("B", WEEKS[0])].supply_units == pytest.approx(50.0)
    assert len(moved) == 1
    o = moved.iloc[0]
    assert (o.sku, o.from_resource_id, o.to_resource_id, o.priority) == ("A", "M1", "M2", 2)
    assert o.units == pytest.approx(100.0)
    assert o.from_hours == pytest.approx(10.0) and o.to_hours == pytest.approx(20.0)
    assert o.extra_cost == pytest.approx(200.0)  # 100 units x (12 - 10)
    assert a1.resource_id == "M1" and a1.constraint_hours == pytest.approx(40.0)  # only the M1 hours
    assert "offloaded 100 units from M1 to M2 (extra cost 200)" in a1.notes
    load = plan.resource_load(
        p.reset_index(), PRIMARY[["sku", "resource_id", "units_per_hour"]], _hours(), moved
    ).set_index(["resource_id", "week_start"])
    assert load.loc[("M1", WEEKS[0]), "planned_hours"] == pytest.approx(40.0)
    assert load.loc[("M2", WEEKS[0]), "planned_hours"] == pytest.approx(30.0)  # 10 (B) + 20 (A)
    assert load.loc[("L1", WEEKS[0]), "planned_hours"] == pytest.approx(25.0)  # 500 / 20: labour still needed
    assert (load.planned_hours <= load.available_hours + 1e-9).all()


def test_an_alternate_with_less_room_takes_what_fits_and_the_rest_moves():
    # M2 has 20 h: B takes 10, 10 h left = 50 units of A; the other 50 units move to week 2.
    p, moved = _run(_hours(m2=20.0))
    assert moved.units.tolist() == pytest.approx([50.0])
    a1 = p.loc[("A", WEEKS[0])]
    assert a1.supply_units == pytest.approx(450.0) and a1.moved_out_units == pytest.approx(50.0)
    assert "moved to a later week: M1 full" in a1.notes and "offloaded 50 units" in a1.notes
    assert p.loc[("A", WEEKS[1])].supply_units == pytest.approx(50.0)  # fits on M1 in week 2


def test_a_full_alternate_falls_back_to_the_old_move_and_cut():
    # M2 has 10 h, all taken by B's own load: nothing is offloaded and the plan is the one
    # without alternates (100 units of A move to week 2; in the last week they would be cut).
    with_alt, moved = _run(_hours(m2=10.0))
    without, none = _run(_hours(m2=10.0), alternates=None)
    assert moved.empty and none.empty
    pd.testing.assert_frame_equal(with_alt, without)
    assert with_alt.loc[("A", WEEKS[0])].moved_out_units == pytest.approx(100.0)
    # in the last week they are cut when no earlier week has hours to build them ahead (M1 full in both)
    last, _ = _run(_hours(m2=10.0), demand=_demand(a=(400.0, 500.0), b=(50.0, 50.0)))
    assert last.loc[("A", WEEKS[1])].cut_units == pytest.approx(100.0)
    assert (last.built_ahead_units == 0).all()


def test_the_sku_s_other_resources_still_bind_on_the_alternate():
    # L1 has 22 h = 440 units of A: 400 fit on M1 (40 h), only 40 more may go to M2 (L1 is full).
    p, moved = _run(_hours(l1=22.0))
    assert moved.units.tolist() == pytest.approx([40.0])
    assert p.loc[("A", WEEKS[0])].supply_units == pytest.approx(440.0)


def test_alternates_are_used_in_priority_order():
    # M3 (priority 2, 10 units/h, 3 h free) before M2 (priority 3): 30 units on M3, 70 on M2.
    alts = pd.concat(
        [
            ALTERNATES.assign(priority=3),
            ALTERNATES.assign(resource_id="M3", units_per_hour=10.0, priority=2, cost_per_hour=150.0),
        ],
        ignore_index=True,
    )
    p, moved = _run(_hours(m3=3.0), alternates=alts)
    assert moved.to_resource_id.tolist() == ["M3", "M2"]
    assert moved.units.tolist() == pytest.approx([30.0, 70.0])
    assert moved.extra_cost.tolist() == pytest.approx([30 * 5.0, 70 * 2.0])  # 15 - 10 and 12 - 10 per unit
    assert p.loc[("A", WEEKS[0])].supply_units == pytest.approx(500.0)


def test_the_minimum_run_counts_primary_and_offloaded_units_together():
    # A's minimum run is 120 units; M1 has 4 h (40 units) and M2 has 15 h free after B (75
    # units): 115 < 120, so A makes nothing this week and the hours stay free.
    p, moved = _run(_hours(m1=4.0, m2=25.0), demand=_demand(a=(120.0, 0.0)), min_lot=pd.Series({"A": 120.0}))
    assert p.loc[("A", WEEKS[0])].supply_units == 0.0 and (moved.week_start != WEEKS[0]).all()
    assert p.loc[("A", WEEKS[0])].moved_out_units == pytest.approx(120.0)
    # week 2 (B makes nothing, M2 has 25 h free): 40 units on M1 + 80 offloaded = the 120 moved
    assert moved.units.tolist() == pytest.approx([80.0]) and moved.week_start.tolist() == [WEEKS[1]]
    assert p.loc[("A", WEEKS[1])].supply_units == pytest.approx(120.0)
    p, moved = _run(_hours(m1=4.0, m2=26.0), demand=_demand(a=(120.0, 0.0)), min_lot=pd.Series({"A": 120.0}))
    assert moved.units.tolist() == pytest.approx([80.0]) and p.loc[("A", WEEKS[0])].supply_units == pytest.approx(120.0)


def test_alternates_that_cannot_be_used_are_named_with_the_reason():
    alts = pd.DataFrame(
        {
            "sku": ["A", "A", "B", "C"],
            "resource_id": ["M3", "L1", "M3", "M3"],
            "units_per_hour": [5.0, 5.0, 0.0, 5.0],
            "priority": [2, 2, 2, 2],
            "alternate_for": [None, "M1", "M2", None],
        }
    )
    routes, ignored = offload.alternate_routes(PRIMARY, alts)
    assert routes.empty
    assert ignored.reason.tolist() == [
        "alternate_for is empty and the SKU has 2 primary resources",
        "already a primary resource of the SKU",
        "units_per_hour 0.0 must be > 0",
        "the SKU has no primary routing",
    ]
    # B has one primary resource: an empty alternate_for means that one
    routes, _ = offload.alternate_routes(PRIMARY, alts.iloc[[2]].assign(units_per_hour=2.5, alternate_for=None))
    assert routes[["sku", "from_resource_id", "to_resource_id"]].values.tolist() == [["B", "M2", "M3"]]
    assert routes.extra_cost_per_unit.iloc[0] == pytest.approx(-12.0)  # no cost on M3; 60/h / 5 on M2


def test_decision_log_lists_each_offload():
    _, moved = _run(_hours())
    rows = decision_log_lib.offload_decisions(moved, "2026-01-04")
    assert len(rows) == 1
    r = rows.iloc[0]
    assert (r.kind, r.status, r.source, r.responsible) == ("offload", "applied", "pipeline", "Master scheduler")
    assert r.subject == "A 2026-01-05: M1->M2"
    assert r.value == "100 units (20.0 h on M2 instead of 10.0 h on M1)"
    assert r.effect == "extra cost 200"
    log = decision_log_lib.decision_log(
        pd.DataFrame(columns=["cycle", "kind", "subject", "value", "approved", "decided_at"]),
        pd.DataFrame(columns=["kind", "subject", "value", "effect"]),
        {},
        "2026-01-04",
        offloads=moved,
    )
    assert log.kind.tolist() == ["offload"] and log.decision_id.is_unique


def test_the_sequence_makes_on_each_resource_what_the_plan_put_there():
    from sop_pipeline.analytics import mps

    p, moved = _run(_hours())
    schedule = mps.mps_from_plan(p.reset_index())
    by_res = mps.mps_by_resource(schedule, PRIMARY[["sku", "resource_id"]], moved)
    week1 = by_res[(by_res.week_start == WEEKS[0]) & (by_res.make_units > 0)]
    assert sorted(zip(week1.sku, week1.resource_id, week1.make_units)) == [
        ("A", "L1", 500.0),  # labour for every unit of A
        ("A", "M1", 400.0),  # 500 - 100 offloaded
        ("A", "M2", 100.0),  # the offloaded units
        ("B", "M2", 50.0),
    ]
    rates = pd.concat(
        [PRIMARY[["sku", "resource_id", "units_per_hour"]], ALTERNATES[["sku", "resource_id", "units_per_hour"]]]
    )
    machines = pd.DataFrame(
        {"resource_id": ["M1", "M2"], "hours_per_day": 16.0, "days_per_week": 5.0, "is_constraint": True}
    )
    seq = mps.sequence_mps(by_res, rates, machines, list(WEEKS), ["M1", "M2"], time_limit_s=1.0).jobs
    got = seq.groupby(["resource_id", "sku"]).agg(qty=("qty", "sum"), hours=("run_hours", "sum"))
    assert got.loc[("M1", "A")].tolist() == pytest.approx([400.0, 40.0])
    assert got.loc[("M2", "A")].tolist() == pytest.approx([100.0, 20.0])  # at the alternate's 5 units/h
    assert got.loc[("M2", "B")].tolist() == pytest.approx([50.0, 10.0])
    assert mps.quantity_breaks(seq, by_res, rates, ["M1", "M2"], list(WEEKS)).empty
    # read against the plain MPS (all of A on M1) the same sequence breaks on M1 and M2
    plain = mps.quantity_breaks(seq, schedule, rates, ["M1", "M2"], list(WEEKS))
    assert set(zip(plain.resource_id, plain.sku)) == {("M1", "A"), ("M2", "A")}


def test_the_offload_cost_lands_in_the_plan_row_and_the_net_margin():
    # Hand-checked: A offloads 100 units at 2 extra each (first test) = 200 in week 1. Margin =
    # 500 x (30 - 10) = 10,000, net margin = 10,000 - 200 = 9,800. B offloads nothing.
    p, moved = _run(_hours())
    a1, b1 = p.loc[("A", WEEKS[0])], p.loc[("B", WEEKS[0])]
    assert a1.offload_cost == pytest.approx(200.0) and a1.margin == pytest.approx(10_000.0)
    assert a1.net_margin == pytest.approx(9_800.0)
    assert b1.offload_cost == 0 and b1.net_margin == pytest.approx(b1.margin)
    assert p.offload_cost.sum() == pytest.approx(moved.extra_cost.sum())
    assert plan.supply_cost_breaks(p.reset_index(), moved).empty


def test_supply_cost_breaks_names_the_row_whose_costs_do_not_reconcile():
    p, moved = _run(_hours())
    rows = p.reset_index()
    a1 = (rows.sku == "A") & (rows.week_start == WEEKS[0])
    dropped = plan.supply_cost_breaks(rows.assign(offload_cost=0.0), moved)  # the offload's cost lost
    assert dropped[["sku", "week_start"]].values.tolist() == [["A", WEEKS[0]]]
    assert dropped.expected.tolist() == pytest.approx([200.0]) and dropped.stated.tolist() == [0.0]
    gross = plan.supply_cost_breaks(rows.assign(net_margin=rows.margin), moved)  # net = gross on A's week
    assert gross[["sku", "week_start"]].values.tolist() == [["A", WEEKS[0]]]
    expedites = pd.DataFrame({"sku": ["B"], "week_start": [WEEKS[1]], "expedite_cost": [300.0]})
    missed = plan.supply_cost_breaks(rows, moved, expedites)  # an approved expedite not in the row
    assert missed[["sku", "week_start"]].values.tolist() == [["B", WEEKS[1]]]
    within = rows.assign(net_margin=rows.net_margin + 0.004 * a1)  # under half a cent: float noise
    assert plan.supply_cost_breaks(within, moved).empty
