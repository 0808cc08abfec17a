"""Promo substitution plan on a hand-made plan: substitutes of the same family with spare stock
(projected inventory above safety stock) cover the promo units the plan moved out, largest spare
first; a spare of less than half a unit is not worth a proposal."""

from __future__ import annotations

import pandas as pd

from sop_pipeline.analytics.substitution import substitution_plan

WEEK = pd.Timestamp("2027-01-25")


def _plan(rows):
    return pd.DataFrame(
        rows,
        columns=[
            "sku",
            "family",
            "week_start",
            "moved_out_units",
            "cut_units",
            "projected_inventory_units",
            "safety_stock_units",
        ],
    )


ITEMS = pd.DataFrame(
    {"sku": ["P", "S1", "S2", "S3", "X"], "family": ["F", "F", "F", "F", "G"], "lifecycle": ["active"] * 5}
)
PROMO = pd.DataFrame(
    {"promo_id": ["PR1"], "sku": ["P"], "start_date": [WEEK], "end_date": [WEEK + pd.Timedelta(days=6)]}
)


def test_substitutes_cover_the_short_promo_units_by_spare_stock_and_say_what_is_left():
    plan = _plan(
        [
            ("P", "F", WEEK, 30.0, 0.0, -30.0, 5.0),  # 30 units short in the promo week
            ("S1", "F", WEEK, 0.0, 0.0, 25.0, 5.0),  # 20 spare
            ("S2", "F", WEEK, 0.0, 0.0, 11.0, 3.0),  # 8 spare
            ("S3", "F", WEEK, 0.0, 0.0, 4.3, 4.0),  # 0.3 spare: too little to propose
            ("X", "G", WEEK, 0.0, 0.0, 500.0, 0.0),  # other family
        ]
    )
    subs = substitution_plan(plan, PROMO, ITEMS)
    offered = subs[subs.substitute_sku.notna()]
    assert offered[["substitute_sku", "units"]].values.tolist() == [["S1", 20.0], ["S2", 8.0]]
    rest = subs[subs.substitute_sku.isna()]
    assert rest.units.tolist() == [2.0] and "no substitute with spare stock in F" in rest.reason.iloc[0]
    assert (subs.units >= 0.5).all() and set(subs.status) == {"proposed"}


def test_nothing_is_proposed_when_the_promo_is_covered():
    plan = _plan([("P", "F", WEEK, 0.0, 0.0, 10.0, 5.0), ("S1", "F", WEEK, 0.0, 0.0, 25.0, 5.0)])
    assert substitution_plan(plan, PROMO, ITEMS).empty


def _one_promo_at_a_time(plan, promotions, items):
    """The plan as first written: the whole plan filtered per promotion and per short week (the
    reference for the indexed version, which must give the same rows in the same order)."""
    import numpy as np

    from sop_pipeline.analytics.substitution import MIN_SUBSTITUTE_UNITS, SUBSTITUTION_COLUMNS

    p = plan.copy()
    p["week_start"] = pd.to_datetime(p.week_start)
    p["short_units"] = p.moved_out_units + p.cut_units
    p["spare_units"] = (p.projected_inventory_units - p.safety_stock_units).clip(lower=0)
    active = set(items.loc[items.lifecycle.fillna("active") != "phase_out", "sku"])
    rows = []
    for promo in promotions.itertuples():
        start, end = pd.Timestamp(promo.start_date), pd.Timestamp(promo.end_date)
        short = p[(p.sku == promo.sku) & (p.short_units > 0) & (p.week_start + pd.Timedelta(days=6) >= start)]
        short = short[short.week_start <= end]
        for week in short.itertuples():
            cands = p[
                (p.family == week.family)
                & (p.sku != promo.sku)
                & (p.week_start == week.week_start)
                & (p.spare_units >= MIN_SUBSTITUTE_UNITS)
                & p.sku.isin(active)
            ].sort_values(["spare_units", "sku"], ascending=[False, True])
            need = week.short_units
            for cand in cands.itertuples():
                if need < MIN_SUBSTITUTE_UNITS:
                    break
                units = min(need, cand.spare_units)
                rows.append((promo.promo_id, promo.sku, cand.sku, round(float(units), 1), week.week_start.date()))
                need -= units
            if need >= MIN_SUBSTITUTE_UNITS:
                rows.append((promo.promo_id, promo.sku, None, round(float(need), 1), week.week_start.date()))
    return pd.DataFrame(rows, columns=SUBSTITUTION_COLUMNS[:5]).replace({np.nan: None})


def test_the_indexed_plan_equals_filtering_the_whole_plan_per_promotion():
    # many promotions, overlapping weeks, a promo SKU with no plan rows, ties in spare stock, a
    # phase-out substitute, a SKU without family: the same proposals in the same order
    import numpy as np

    rng = np.random.default_rng(8)
    skus = [f"K{i:02d}" for i in range(30)]
    weeks = [WEEK + pd.Timedelta(weeks=k) for k in range(6)]
    plan = _plan(
        [
            (
                sku,
                None if sku == "K29" else f"F{int(sku[1:]) % 3}",
                w,
                float(rng.choice([0, 0, 5, 12.5])),
                float(rng.choice([0, 0, 3])),
                float(rng.choice([0, 4, 10, 10, 30])),
                float(rng.choice([2, 4])),
            )
            for sku in skus
            for w in weeks
        ]
    )
    items = pd.DataFrame(
        {"sku": skus, "family": [f"F{i % 3}" for i in range(30)], "lifecycle": ["active"] * 29 + ["phase_out"]}
    )
    starts = rng.choice(weeks, 40)
    promos = pd.DataFrame(
        {
            "promo_id": [f"PR{i}" for i in range(40)],
            "sku": list(rng.choice(skus, 39)) + ["NOPE"],
            "start_date": starts + pd.Timedelta(days=2),
            "end_date": starts + pd.Timedelta(days=int(rng.integers(3, 20))),
        }
    )
    got = substitution_plan(plan, promos, items)
    expected = _one_promo_at_a_time(plan, promos, items)
    assert len(got) >= 20 and got.substitute_sku.isna().any() and got.substitute_sku.notna().any()
    pd.testing.assert_frame_equal(got[expected.columns].replace({np.nan: None}), expected)
