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
