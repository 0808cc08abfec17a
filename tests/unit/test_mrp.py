"""MRP on small BOMs exploded by hand (analytics.mrp): levels, lead-time offsets, netting against
stock and open POs, lot sizes, version by effective date, late purchase orders, bad BOM rows."""

from datetime import date

import pandas as pd
import pytest

from sop_pipeline.analytics import mrp
from sop_pipeline.analytics.calendar import Cycle

CYCLE = Cycle(date(2026, 11, 22))  # a Sunday: week 1 starts Mon 2026-11-23
W = [pd.Timestamp(w) for w in CYCLE.horizon()]


def _plan(rows):
    return pd.DataFrame(rows, columns=["sku", "week_start", "make_units"])


def _three_levels():
    """FG (made, 1-week lead) = 2 SUB + 1 BOX; SUB (made, not in the plan, 0.5-week lead) = 0.5 kg RAW."""
    bom = pd.DataFrame(
        {
            "parent_sku": ["FG", "FG", "SUB"],
            "component_sku": ["SUB", "BOX", "RAW"],
            "qty_per": [2.0, 1.0, 0.5],
        }
    )
    plan = _plan([("FG", W[2], 10.0), ("FG", W[3], 20.0), ("FG", W[0], 0.0)])
    result = mrp.explode(
        plan,
        bom,
        CYCLE,
        make_or_buy=pd.Series({"FG": "make", "SUB": "make", "BOX": "buy", "RAW": "buy"}),
        lead_time_weeks=pd.Series({"FG": 1.0, "SUB": 0.5}),
        on_hand=pd.Series({"SUB": 25.0, "BOX": 0.0}),
        scheduled=pd.DataFrame({"sku": ["BOX"], "week_start": [W[1]], "units": [15.0]}),
        suppliers=pd.DataFrame(
            {
                "sku": ["BOX", "RAW"],
                "supplier_id": ["S1", "S2"],
                "lead_time_days": [10.0, 30.0],
                "lead_time_source": ["observed", "observed"],
            }
        ),
        lot_sizes=pd.DataFrame({"sku": ["BOX", "RAW"], "min_order_qty": [40.0, None], "order_multiple": [None, 25.0]}),
    )
    return plan, bom, result


def _req(result, sku, week):
    r = result.requirements
    return r[(r.component_sku == sku) & (r.week_start == W[week - 1])].iloc[0]


def test_three_level_explosion_by_hand():
    plan, bom, result = _three_levels()
    # FG makes 10 in week 3 and 20 in week 4; a 1-week lead: its components are needed in weeks 2 and 3
    assert _req(result, "SUB", 2).gross_units == 20.0 and _req(result, "SUB", 3).gross_units == 40.0
    # SUB: 25 on hand covers week 2 (5 left), week 3 is short 35 -> planned make 35, released in week 3 (0.5 wk lead)
    assert _req(result, "SUB", 2).projected_on_hand_units == 5.0
    sub3 = _req(result, "SUB", 3)
    assert (sub3.net_units, sub3.planned_receipt_units, sub3.projected_on_hand_units) == (35.0, 35.0, 0.0)
    assert sub3.planned_release_week_start == W[2] and sub3.make_or_buy == "make"
    # BOX: the open PO (15 in week 2) covers week 2's 10; week 3 needs 15 more, MOQ 40 -> 40, 25 left
    box3 = _req(result, "BOX", 3)
    assert (box3.gross_units, box3.net_units, box3.planned_receipt_units, box3.projected_on_hand_units) == (
        20.0,
        15.0,
        40.0,
        25.0,
    )
    assert _req(result, "BOX", 2).scheduled_receipts_units == 15.0
    # RAW (level 2): SUB's 35 released in week 3 x 0.5 = 17.5 kg, order multiple 25 -> 25
    raw3 = _req(result, "RAW", 3)
    assert (raw3.gross_units, raw3.planned_receipt_units, raw3.low_level_code) == (17.5, 25.0, 2)
    assert _req(result, "BOX", 3).low_level_code == 1 and raw3.parents == "SUB"
    # every week is balanced and never negative; every make row exploded
    assert mrp.balance_breaks(result.requirements).empty
    assert mrp.explosion_breaks(plan, result, bom, CYCLE, pd.Series({"FG": 1.0, "SUB": 0.5})).empty


def test_purchase_release_by_supplier_lead_time_and_late_flag():
    _, _, result = _three_levels()
    p = result.purchases.set_index("component_sku")
    # BOX needed Mon 2026-12-07 (week 3), 10 days' lead: release Fri 2026-11-27 (week 1), on time
    assert p.at["BOX", "supplier_id"] == "S1" and p.at["BOX", "qty"] == 40.0
    assert p.at["BOX", "release_date"] == pd.Timestamp("2026-11-27")
    assert p.at["BOX", "release_week_start"] == W[0] and not p.at["BOX", "late"]
    # RAW needed 2026-12-07, 30 days' lead: release 2026-11-07 is before the as-of (2026-11-22): late by 15 days,
    # ordered today it arrives 2026-12-22
    assert p.at["RAW", "late"] and p.at["RAW", "days_late"] == 15
    assert p.at["RAW", "earliest_arrival_date"] == pd.Timestamp("2026-12-22")
    assert p.at["RAW", "release_week_start"] == pd.Timestamp("2026-11-02")
    assert set(result.purchases.supplier_id) == {"S1", "S2"}


def test_bom_version_by_effective_date():
    bom = pd.DataFrame(
        {
            "parent_sku": ["P", "P", "P"],
            "component_sku": ["OLD", "NEW", "GONE"],
            "qty_per": [1.0, 3.0, 9.0],
            "effective_from": [None, pd.Timestamp("2026-12-07"), None],
            "effective_to": [pd.Timestamp("2026-12-06"), None, pd.Timestamp("2026-11-01")],
            "bom_version": ["v1", "v2", "v0"],
        }
    )
    plan = _plan([("P", W[0], 10.0), ("P", W[1], 10.0), ("P", W[2], 10.0)])
    result = mrp.explode(plan, bom, CYCLE, make_or_buy=pd.Series({"P": "make"}))
    gross = result.requirements.groupby("component_sku").gross_units.sum()
    assert gross["OLD"] == 20.0  # weeks 1-2 (to 2026-12-06)
    assert gross["NEW"] == 30.0  # week 3 (from 2026-12-07): 10 x 3
    assert "GONE" not in gross  # ended before the as-of
    assert _req(result, "NEW", 3).bom_versions == "v2" and _req(result, "OLD", 1).bom_versions == "v1"
    assert mrp.explosion_breaks(plan, result, bom, CYCLE, None).empty


def test_plan_sku_used_as_a_component_is_not_netted_and_make_rows_without_bom_are_listed():
    bom = pd.DataFrame({"parent_sku": ["PACK", "FG"], "component_sku": ["FG", "C"], "qty_per": [6.0, 1.0]})
    plan = _plan([("PACK", W[0], 2.0), ("FG", W[0], 5.0), ("LONE", W[0], 4.0)])
    result = mrp.explode(
        plan, bom, CYCLE, make_or_buy=pd.Series({"PACK": "make", "FG": "make"}), on_hand=pd.Series({"FG": 100.0})
    )
    fg = _req(result, "FG", 1)
    assert not fg.netted and fg.gross_units == 12.0 and fg.planned_receipt_units == 12.0  # stock serves the plan
    assert _req(result, "C", 1).gross_units == 17.0  # FG's own 5 + the pack's 12
    assert list(result.unexploded.sku) == ["LONE"]
    assert mrp.explosion_breaks(plan, result, bom, CYCLE, None).empty


def test_checks_catch_a_broken_balance_and_a_missing_explosion():
    plan, bom, result = _three_levels()
    req = result.requirements.copy()
    req.loc[(req.component_sku == "BOX") & (req.horizon_week == 5), "projected_on_hand_units"] = 99.0
    assert list(mrp.balance_breaks(req).component_sku) == ["BOX", "BOX"]  # week 5 wrong, week 6 follows from it
    peg = result.pegging[result.pegging.component_sku != "BOX"]
    broken = mrp.MrpResult(result.requirements, peg, result.purchases, result.unexploded)
    problems = mrp.explosion_breaks(plan, broken, bom, CYCLE, pd.Series({"FG": 1.0, "SUB": 0.5}))
    assert "component BOX not exploded" in set(problems.problem)


def test_bad_bom_rows_are_found_with_a_reason():
    bom = pd.DataFrame(
        {
            "parent_sku": ["A", "B", "C", "D", "X", "E", "E", "E", "F"],
            "component_sku": ["B", "C", "A", "E", "X", "K", "K", "K", "G"],
            "qty_per": [1.0] * 9,
            "effective_from": [None] * 5 + [None, pd.Timestamp("2026-12-01"), pd.Timestamp("2027-02-01"), None],
            "effective_to": [None] * 5
            + [pd.Timestamp("2026-12-15"), pd.Timestamp("2027-01-31"), None, pd.Timestamp("2026-01-01")],
            "source_row": range(2, 11),
        }
    )
    bom.loc[8, "effective_from"] = pd.Timestamp("2026-06-01")
    out = mrp.bom_problems(bom)
    cyc = out[out.rule == "bom_cycle"]
    assert list(cyc.source_row) == [2, 3, 4, 6]
    assert cyc.reason.iloc[0].startswith("BOM cycle: A -> B -> C -> A")
    assert "X -> X" in cyc.reason.iloc[3]
    dup = out[out.rule == "duplicate_key"]
    assert list(dup.source_row) == [7, 8]  # rows 7 and 8 overlap in December; row 9 starts after row 8 ends
    assert "row(s) 8" in dup.reason.iloc[0]
    assert list(out[out.rule == "range"].source_row) == [10]
    with pytest.raises(mrp.BomError, match="BOM cycle"):
        mrp.low_level_codes(bom.iloc[:3])


def test_supplier_sources_latest_supplier_and_recent_lead_time():
    po = pd.DataFrame(
        {
            "po_id": ["P1", "P2", "P3", "P4"],
            "line": [1, 1, 1, 1],
            "supplier_id": ["S1", "S2", "S2", "S3"],
            "sku": ["C", "C", "C", "D"],
            "order_date": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01", "2026-03-01"]),
            "promised_date": pd.to_datetime(["2026-01-10", "2026-02-15", "2026-03-15", "2026-03-21"]),
        }
    )
    rec = pd.DataFrame(
        {
            "po_id": ["P2", "P3", "P3"],
            "line": [1, 1, 1],
            "receipt_date": pd.to_datetime(["2026-02-21", "2026-03-31", "2026-03-25"]),
        }
    )
    out = mrp.supplier_sources(po, rec).set_index("sku")
    assert out.at["C", "supplier_id"] == "S2" and out.at["C", "lead_time_days"] == 22.0  # median of 20 and 24
    assert out.at["D", "lead_time_source"] == "quoted" and out.at["D", "lead_time_days"] == 20.0
