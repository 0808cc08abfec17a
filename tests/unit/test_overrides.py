"""Overrides: lower level first, disaggregation by profile, same-level conflicts (hand-computed)."""

import pandas as pd
import pytest

from sop_pipeline.analytics import overrides as ov

W1, W2 = pd.Timestamp("2026-11-23"), pd.Timestamp("2026-11-30")
FAMILIES = pd.Series({"A": "F", "B": "F", "C": "F", "D": "G"})


def _base() -> pd.DataFrame:
    # statistical p50: A 10, B 30, C 60, D 100 each week; pre-override consensus = p50 + 10 (A..C), D 100
    rows = []
    for h, w in ((1, W1), (2, W2)):
        for sku, stat, base in (("A", 10, 20), ("B", 30, 40), ("C", 60, 70), ("D", 100, 100)):
            rows.append((sku, w, h, float(stat), float(base)))
    return pd.DataFrame(rows, columns=["sku", "week_start", "horizon_week", "statistical_units", "base_units"])


def _ov(*rows) -> pd.DataFrame:
    out = []
    for n, (level, key, week_from, week_to, mode, value, *rest) in enumerate(rows):
        profile, approved = (list(rest) + [None, True][len(rest) :])[:2]
        created = f"2026-11-0{n + 1}"
        out.append(
            dict(
                override_id=f"O{n + 1}",
                level=level,
                key=key,
                week_from=week_from,
                week_to=week_to,
                mode=mode,
                value=value,
                profile=profile,
                reason="r",
                author="planner",
                approved=approved,
                created_at=created,
            )
        )
    return pd.DataFrame(out)


def _units(result, sku, week=W1) -> float:
    wf = result.waterfall
    return float(wf[(wf.sku == sku) & (wf.week_start == week)].consensus_units.iloc[0])


def test_sku_override_wins_and_family_total_holds_on_the_other_skus():
    # SKU A = 40 units; family F = 200 units a week. B and C share 200 - 40 = 160 by p50 30:60.
    r = ov.apply_overrides(
        _base(),
        _ov(("sku", "A", W1, W1, "units", 40), ("family", "F", W1, W2, "units", 200)),
        FAMILIES,
    )
    assert _units(r, "A") == 40.0
    assert _units(r, "B") == pytest.approx(160 * 30 / 90)  # 53.333
    assert _units(r, "C") == pytest.approx(160 * 60 / 90)  # 106.667
    assert _units(r, "A") + _units(r, "B") + _units(r, "C") == pytest.approx(200)
    # week 2 has no SKU override: 200 split 10:30:60 -> 20, 60, 120
    assert [_units(r, s, W2) for s in "ABC"] == pytest.approx([20.0, 60.0, 120.0])
    assert _units(r, "D") == 100.0  # other family untouched
    wf = r.waterfall.set_index(["sku", "week_start"])
    assert wf.loc[("A", W1), "override_ids"] == "O1" and wf.loc[("B", W1), "override_ids"] == "O2"
    assert wf.loc[("A", W1), "override_delta_units"] == 20.0  # 40 - base 20
    assert wf.loc[("D", W1), "override_ids"] == ""
    log = r.log.set_index("override_id")
    assert log.status.tolist() == ["applied", "applied"]
    assert log.loc["O2", "sku_weeks"] == 5 and log.loc["O2", "override_units"] == pytest.approx(160 + 200)
    assert "kept at their lower-level override" in log.loc["O2", "note"]
    assert ov.waterfall_breaks(r.waterfall, r.log) == []


def test_pct_family_override_on_pre_override_consensus_and_total_keeps_lower_levels():
    # family F -10 %: base F = 20 + 40 + 70 = 130 -> 117 spread 10:30:60 -> 11.7, 35.1, 70.2.
    # total = 500 units: F is kept (117), so D gets 500 - 117 = 383.
    r = ov.apply_overrides(
        _base(),
        _ov(("family", "F", W1, W1, "pct", -10), ("total", "", W1, W1, "units", 500)),
        FAMILIES,
    )
    assert [_units(r, s) for s in "ABC"] == pytest.approx([11.7, 35.1, 70.2])
    assert _units(r, "D") == pytest.approx(383.0)
    assert r.waterfall[r.waterfall.week_start == W1].consensus_units.sum() == pytest.approx(500.0)


def test_pct_total_over_a_family_cut_changes_the_other_families_by_its_own_per_cent():
    # family F -10 % (130 -> 117); total +5 %: it sets only D (F is kept), so D = 100 x 1.05 = 105,
    # not the total's 5 % (340 x 1.05 = 357) less F's 117 = 240 (+140 %: the cut made up on D)
    r = ov.apply_overrides(
        _base(),
        _ov(("family", "F", W1, W1, "pct", -10), ("total", "", W1, W1, "pct", 5)),
        FAMILIES,
    )
    assert [_units(r, s) for s in "ABC"] == pytest.approx([11.7, 35.1, 70.2])
    assert _units(r, "D") == pytest.approx(105.0)
    log = r.log.set_index("override_id")
    assert log.loc["O2", "base_units"] == pytest.approx(100.0) and log.loc["O2", "delta_units"] == pytest.approx(5.0)
    assert ov.waterfall_breaks(r.waterfall, r.log) == []


def test_a_sku_being_run_down_takes_no_share_of_a_family_or_total_override():
    # C is being phased out (consensus 70, sold 2 of 4 units a year ago). A last_year family override
    # of +10 % sets A and B only: their 60 -> 66 spread 1:1 (last year); C keeps 70. A units family
    # override of 200 keeps C's 70 inside the family total: A and B share 130 by p50 10:30.
    history = pd.DataFrame(
        {"sku": ["A", "B", "C"], "week_start": [W1 - pd.Timedelta(weeks=52)] * 3, "units": [1.0, 1.0, 2.0]}
    )
    pct = ov.apply_overrides(
        _base(), _ov(("family", "F", W1, W1, "pct", 10, "last_year")), FAMILIES, history=history, run_out={"C"}
    )
    assert [_units(pct, s) for s in "ABC"] == pytest.approx([33.0, 33.0, 70.0])
    assert "1 SKU(s) being run down kept at their consensus" in pct.log.note[0]
    units = ov.apply_overrides(_base(), _ov(("family", "F", W1, W1, "units", 200)), FAMILIES, run_out={"C"})
    assert [_units(units, s) for s in "ABC"] == pytest.approx([32.5, 97.5, 70.0])
    wf = units.waterfall.set_index(["sku", "week_start"])
    assert wf.loc[("C", W1), "override_ids"] == "" and wf.loc[("C", W1), "override_delta_units"] == 0.0
    # a SKU override still sets it, and a total override keeps it too
    named = ov.apply_overrides(
        _base(),
        _ov(("sku", "C", W1, W1, "units", 5), ("total", "", W1, W1, "pct", 0, "consensus")),
        FAMILIES,
        run_out={"C"},
    )
    assert _units(named, "C") == 5.0 and _units(named, "D") == pytest.approx(100.0)
    everyone = ov.apply_overrides(_base(), _ov(("total", "", W1, W1, "pct", 20, "flat")), FAMILIES, run_out={"C"})
    assert _units(everyone, "C") == 70.0 and sum(_units(everyone, s) for s in "ABD") == pytest.approx(160 * 1.2)


def test_lower_levels_above_the_family_target_leave_the_other_skus_at_zero():
    # A = 150, family F = 100: B and C get 0, F ends at 150 (50 above); the log says so.
    r = ov.apply_overrides(
        _base(), _ov(("sku", "A", W1, W1, "units", 150), ("family", "F", W1, W1, "units", 100)), FAMILIES
    )
    assert [_units(r, s) for s in "ABC"] == [150.0, 0.0, 0.0]
    assert "exceed the target by 50.0 units" in r.log.set_index("override_id").loc["O2", "note"]


def test_profiles_flat_consensus_and_last_year():
    history = pd.DataFrame(
        {"sku": ["A", "B", "C"], "week_start": [W1 - pd.Timedelta(weeks=52)] * 3, "units": [1.0, 1.0, 2.0]}
    )
    for profile, expected in (
        ("flat", [30.0, 30.0, 30.0]),
        ("consensus", [90 * 20 / 130, 90 * 40 / 130, 90 * 70 / 130]),
        ("last_year", [22.5, 22.5, 45.0]),
    ):
        r = ov.apply_overrides(_base(), _ov(("family", "F", W1, W1, "units", 90, profile)), FAMILIES, history=history)
        assert [_units(r, s) for s in "ABC"] == pytest.approx(expected), profile
    # last_year without history falls back to the statistical profile (10:30:60)
    r = ov.apply_overrides(_base(), _ov(("family", "F", W2, W2, "units", 90, "last_year")), FAMILIES, history=history)
    assert [_units(r, s, W2) for s in "ABC"] == pytest.approx([9.0, 27.0, 54.0])


def test_unapproved_unknown_outside_and_superseded_overrides_are_listed_not_applied():
    rows = _ov(
        ("sku", "A", W1, W1, "units", 999, None, False),  # not approved
        ("family", "NOPE", W1, W1, "units", 5),
        ("sku", "B", "2027-06-07", "2027-06-07", "units", 5),  # outside the horizon
        ("sku", "C", W1, W1, "units", 1),  # superseded by O5 (created later)
        ("sku", "C", W1, W1, "units", 2),
    )
    r = ov.apply_overrides(_base(), rows, FAMILIES)
    log = r.log.set_index("override_id").status
    assert log["O1"] == "not approved"
    assert log["O2"].startswith("not applied: family NOPE")
    assert log["O3"] == "not applied: outside the horizon"
    assert log["O4"] == "superseded" and log["O5"] == "applied"
    assert _units(r, "A") == 20.0 and _units(r, "C") == 2.0
    assert r.waterfall.override_delta_units.abs().sum() == pytest.approx(68.0)  # only C wk1: 2 - 70


def test_no_overrides_changes_nothing():
    r = ov.apply_overrides(_base(), None, FAMILIES)
    assert (r.waterfall.consensus_units == r.waterfall.base_units).all() and r.log.empty


def test_overrides_enter_the_decision_log_applied_or_proposed():
    from sop_pipeline.analytics import decisions

    r = ov.apply_overrides(
        _base(),
        _ov(("family", "F", W1, W1, "pct", -10), ("sku", "D", W1, W1, "units", 5, None, False)),
        FAMILIES,
    )
    empty = pd.DataFrame(columns=["cycle", "kind", "subject", "value", "approved", "decided_at"])
    log = decisions.decision_log(empty, pd.DataFrame(columns=["kind", "subject", "value", "effect"]), {}, W1, r.log)
    log = log.set_index("decision_id")
    assert log.loc["O1", ["kind", "subject", "status", "source"]].tolist() == [
        "forecast_override",
        "family:F",
        "approved",
        "override",
    ]
    assert log.loc["O1", "effect"] == "consensus -13 units over 3 SKU-weeks"  # 117 - 130
    assert log.loc["O1", "value"] == "-10 %, weeks 2026-11-23..2026-11-23, spread by statistical (r)"
    assert log.loc["O2", "status"] == "proposed" and log.loc["O2", "effect"] == "none: awaiting approval"
    assert log.loc["O2", "responsible"] == "planner"


def test_plan_demand_is_remaining_forecast_plus_booked():
    from sop_pipeline.analytics import consumption, plan_inputs

    r = ov.apply_overrides(_base(), _ov(("sku", "A", W1, W1, "units", 40)), FAMILIES)
    fc = r.waterfall.rename(columns={"consensus_units": "forecast_units"})
    orders = pd.DataFrame(
        {
            "order_id": ["S1"],
            "line": [1],
            "sku": ["B"],
            "demand_date": [W1 + pd.Timedelta(days=1)],
            "open_units": [55.0],
        }
    )
    c = consumption.consume(fc, orders)
    c = c.assign(demand_source="consensus", override_ids=r.waterfall.override_ids.to_numpy(), selling_price=2.0)
    d = plan_inputs.planned_demand(c, 13).set_index(["sku", "week_start"])
    # A week 1 = the override (40); B week 1 = 55 booked > 40 forecast: 0 remaining + 55 booked,
    # the other 15 consumed B's week 2 forecast (40 -> 25)
    assert d.loc[("A", W1), ["demand_units", "decision_ids"]].tolist() == [40.0, "O1"]
    assert d.loc[("B", W1), "demand_units"] == 55.0 and d.loc[("B", W2), "demand_units"] == 25.0
    # week 1: 40 + 55 + 70 + 100; week 2: 20 + 25 + 70 + 100 (the 15 booked above B's week 1 added once)
    assert d.demand_units.sum() == pytest.approx(265 + 215)


def test_waterfall_breaks_name_the_sku_week():
    r = ov.apply_overrides(_base(), _ov(("sku", "A", W1, W1, "units", 40)), FAMILIES)
    wf = r.waterfall.copy()
    wf.loc[(wf.sku == "B") & (wf.week_start == W1), "consensus_units"] = 41.0  # base 40, no override
    wf.loc[(wf.sku == "A") & (wf.week_start == W1), "consensus_units"] = 39.0
    assert ov.waterfall_breaks(wf, r.log) == [
        "A 2026-11-23: consensus != base + override",
        "B 2026-11-23: consensus != base + override",
        "override O1: logged units differ from the waterfall",
    ]


def test_a_family_member_without_a_forecast_row_takes_no_share():
    # E is in family F (item master) but has no row in week 1 (no forecast, or absent at a backtest
    # origin): F = 200 spreads over A, B, C by p50 10:30:60, and E gets nothing, without an error
    families = pd.concat([FAMILIES, pd.Series({"E": "F"})])
    base = _base()
    base = pd.concat([base, pd.DataFrame([("E", W2, 2, 5.0, 5.0)], columns=base.columns)], ignore_index=True)
    r = ov.apply_overrides(base, _ov(("family", "F", W1, W1, "units", 200)), families)
    assert _units(r, "A") == pytest.approx(20.0) and _units(r, "C") == pytest.approx(120.0)
    assert not ((r.waterfall.sku == "E") & (r.waterfall.week_start == W1)).any()
    assert _units(r, "E", W2) == 5.0
