"""Price-volume-mix bridge: hand-worked examples and additivity properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sop_pipeline.analytics.pvm import (
    BRIDGE_COLUMNS,
    margin_by_family,
    pvm_bridge,
    pvm_bridge_family_plan,
    pvm_sku_contributions,
)

EFFECTS = ["price_effect", "volume_effect", "mix_effect"]
TOL = 1e-6

# Plan:   A 100 u x 10 = 1000, B 100 u x 20 = 2000 -> R_p 3000, T_p 200, m_p = (.5, .5)
# Actual: A 150 u x 11 = 1650, B  90 u x 19 = 1710 -> R_a 3360, T_a 240, m_a = (.625, .375)
PLAN = pd.DataFrame({"sku": ["A", "B"], "family": "F1", "units": [100.0, 100.0], "revenue": [1000.0, 2000.0]})
ACTUAL = pd.DataFrame({"sku": ["A", "B"], "family": "F1", "units": [150.0, 90.0], "revenue": [1650.0, 1710.0]})


def test_two_sku_worked_example():
    # price  = (11 - 10) x 150 + (19 - 20) x 90 = 150 - 90 = 60
    # volume = (240 - 200) x (10 x .5 + 20 x .5) = 40 x 15 = 600
    # mix    = 240 x (10 x (.625 - .5) + 20 x (.375 - .5)) = 240 x (1.25 - 2.5) = -300
    # total  = 60 + 600 - 300 = 360 = 3360 - 3000
    out = pvm_bridge(ACTUAL, PLAN)
    assert list(out.columns) == BRIDGE_COLUMNS
    row = out.iloc[0]
    assert row["level"] == "total"
    assert row["price_effect"] == pytest.approx(60.0)
    assert row["volume_effect"] == pytest.approx(600.0)
    assert row["mix_effect"] == pytest.approx(-300.0)
    assert row["total_difference"] == pytest.approx(360.0)
    assert (row["revenue_actual"], row["revenue_plan"]) == (3360.0, 3000.0)


def test_rows_per_sku_are_summed():
    split = pd.concat([ACTUAL.assign(units=ACTUAL["units"] / 2, revenue=ACTUAL["revenue"] / 2)] * 2)
    pd.testing.assert_frame_equal(pvm_bridge(split, PLAN), pvm_bridge(ACTUAL, PLAN))


def test_new_item_lands_in_mix_and_dropped_item_leaves_through_volume_and_mix():
    # Plan X 10 u x 5 = 50 (dropped); actual N 20 u x 4 = 80 (new); A unchanged 10 u x 10 = 100.
    plan = pd.DataFrame({"sku": ["A", "X"], "units": [10.0, 10.0], "revenue": [100.0, 50.0]})
    actual = pd.DataFrame({"sku": ["A", "N"], "units": [10.0, 20.0], "revenue": [100.0, 80.0]})
    # P_p(N) := P_a(N) = 4 -> price 0 everywhere. T_p 20, sum(P_p m_p) = 150 / 20 = 7.5, T_a 30.
    # volume = (30 - 20) x 7.5 = 75; mix = sum(P_p Q_a) - T_a x 7.5 = (100 + 80) - 225 = -45
    # total 75 - 45 = 30 = 180 - 150
    row = pvm_bridge(actual, plan).iloc[0]
    assert row["price_effect"] == pytest.approx(0.0)
    assert row["volume_effect"] == pytest.approx(75.0)
    assert row["mix_effect"] == pytest.approx(-45.0)
    by_sku = pvm_sku_contributions(actual, plan).set_index("sku")
    assert by_sku.loc["N", "mix_effect"] == pytest.approx(80.0)  # the new item's whole revenue is mix
    assert by_sku.loc["N", ["price_effect", "volume_effect"]].tolist() == pytest.approx([0.0, 0.0])
    assert by_sku.loc["X", "price_effect"] == 0.0
    assert by_sku[EFFECTS].sum().tolist() == pytest.approx([0.0, 75.0, -45.0])


def test_family_rows_between_row_and_total():
    actual = pd.concat([ACTUAL, pd.DataFrame({"sku": ["N"], "family": "F2", "units": [10.0], "revenue": [500.0]})])
    plan = pd.concat([PLAN, pd.DataFrame({"sku": ["D"], "family": "F2", "units": [20.0], "revenue": [400.0]})])
    out = pvm_bridge(actual, plan, group_cols=["family"])
    assert list(out.columns) == ["family", *BRIDGE_COLUMNS]
    assert out["level"].tolist() == ["group", "group", "between_groups", "total"]
    f1, f2, between, total = (out.iloc[i] for i in range(4))
    # F1 is the two-SKU example: 60 / 600 / -300.
    assert [f1[c] for c in EFFECTS] == pytest.approx([60.0, 600.0, -300.0])
    # F2: D 20 u x 20 planned, N 10 u x 50 new. price 0; volume (10 - 20) x 20 = -200;
    # mix = 50 x 10 - 10 x 20 = 300; total 100.
    assert [f2[c] for c in EFFECTS] == pytest.approx([0.0, -200.0, 300.0])
    # Total over all SKUs: T_p 220, R_p 3400, avg plan price 15.4545; T_a 250.
    # price 60; volume 30 x 3400/220 = 463.636; mix = (10x150 + 20x90 + 50x10) - 250 x 3400/220 = -63.636
    assert [total[c] for c in EFFECTS] == pytest.approx([60.0, 30 * 3400 / 220, 3800 - 250 * 3400 / 220])
    # Between-family mix: volume 463.636 - (600 - 200) = +63.636 and mix -63.636 - 0 = -63.636
    assert between["volume_effect"] == pytest.approx(30 * 3400 / 220 - 400)
    assert between["mix_effect"] == pytest.approx(-between["volume_effect"])
    assert between["price_effect"] == 0.0 and between["total_difference"] == 0.0
    numeric = BRIDGE_COLUMNS[1:]
    np.testing.assert_allclose(out.iloc[:3][numeric].sum().to_numpy(float), total[numeric].to_numpy(float), atol=TOL)


def test_family_grain_plan_worked_example():
    actual = pd.DataFrame(
        {
            "sku": ["a1", "a2", "b1", "c1"],
            "family": ["F1", "F1", "F2", "F3"],
            "units": [60.0, 60.0, 40.0, 10.0],
            "revenue": [720.0, 600.0, 1400.0, 300.0],
        }
    )
    plan = pd.DataFrame(
        {"month": "2025-03-01", "family": ["F1", "F2"], "units": [100.0, 50.0], "revenue": [1000.0, 1500.0]}
    )
    # Plan prices F1 10, F2 30; F3 new -> P_p := P_a = 30. T_p 150, R_p 2500 (avg 16.667), T_a 170.
    # price:  F1 1320 - 10 x 120 = 120; F2 1400 - 30 x 40 = 200; F3 0          -> 320
    # volume: (170 - 150) x P_p m_p: F1 20 x 1000/150 = 133.33, F2 20 x 10 = 200 -> 333.33
    # mix:    P_p Q_a - 170 x P_p m_p: F1 1200 - 1133.33 = 66.67, F2 1200 - 1700 = -500, F3 300 -> -133.33
    # total 320 + 333.33 - 133.33 = 520 = 3020 - 2500
    out = pvm_bridge_family_plan(actual, plan)
    assert out["level"].tolist() == ["family", "family", "family", "total"]
    got = out.set_index(out["family"].fillna("TOTAL"))
    assert got.loc["F1", EFFECTS].tolist() == pytest.approx([120.0, 400 / 3, 200 / 3])
    assert got.loc["F2", EFFECTS].tolist() == pytest.approx([200.0, 200.0, -500.0])
    assert got.loc["F3", EFFECTS].tolist() == pytest.approx([0.0, 0.0, 300.0])
    assert got.loc["TOTAL", EFFECTS].tolist() == pytest.approx([320.0, 1000 / 3, -400 / 3])
    assert got.loc["TOTAL", "total_difference"] == pytest.approx(520.0)


def test_margin_by_family():
    cost = pd.DataFrame({"sku": ["A", "B"], "unit_cost": [6.0, 12.0]})
    out = margin_by_family(ACTUAL, cost)
    # cogs = 150 x 6 + 90 x 12 = 1980; margin = 3360 - 1980 = 1380; 41.07% of revenue
    f1 = out.iloc[0]
    assert (f1["family"], f1["level"]) == ("F1", "group")
    assert (f1["revenue"], f1["cogs"], f1["margin"]) == (3360.0, 1980.0, 1380.0)
    assert f1["margin_pct"] == pytest.approx(100 * 1380 / 3360)
    assert out.iloc[-1]["level"] == "total" and out.iloc[-1]["margin"] == 1380.0
    with pytest.raises(ValueError, match="no unit cost for SKU.*B"):
        margin_by_family(ACTUAL, {"A": 6.0})


def test_planner_readable_errors():
    with pytest.raises(ValueError, match="different family"):
        pvm_bridge(ACTUAL, PLAN.assign(family="F9"), group_cols=["family"])
    with pytest.raises(ValueError, match="net negative units"):
        pvm_bridge(ACTUAL.assign(units=-1.0), PLAN)
    with pytest.raises(ValueError, match="missing column"):
        pvm_bridge(ACTUAL.drop(columns="units"), PLAN)


# ----------------------------------------------------------------------------- properties

_sku_rows = st.lists(
    st.tuples(
        st.integers(0, 11),  # sku number; family = number % 3
        st.sampled_from(["both", "actual", "plan"]),
        st.sampled_from([0.0, 1.0, 3.0, 17.0, 250.0]) | st.floats(0, 1000, allow_nan=False),  # actual units
        st.floats(0, 1000, allow_nan=False),  # plan units
        st.floats(0, 200, allow_nan=False),  # actual price
        st.floats(0, 200, allow_nan=False),  # plan price
        st.booleans(),  # revenue without units on the actual side (credit note)
    ),
    max_size=15,
)


def _frames(rows) -> tuple[pd.DataFrame, pd.DataFrame]:
    actual, plan = [], []
    for number, side, q_a, q_p, p_a, p_p, unitless in rows:
        sku, family = f"S{number:02d}", f"F{number % 3}"
        if side in ("both", "actual"):
            actual.append({"sku": sku, "family": family, "units": q_a, "revenue": q_a * p_a})
            if unitless:
                actual.append({"sku": sku, "family": family, "units": 0.0, "revenue": -p_a})
        if side in ("both", "plan"):
            plan.append({"sku": sku, "family": family, "units": q_p, "revenue": q_p * p_p})
    columns = ["sku", "family", "units", "revenue"]
    return pd.DataFrame(actual, columns=columns), pd.DataFrame(plan, columns=columns)


def _assert_rows_add_up(out: pd.DataFrame) -> None:
    np.testing.assert_allclose(out[EFFECTS].sum(axis=1), out["total_difference"], atol=TOL)
    np.testing.assert_allclose(out["total_difference"], out["revenue_actual"] - out["revenue_plan"], atol=TOL)


@settings(max_examples=40, deadline=None, database=None)
@given(_sku_rows)
def test_effects_add_up_exactly_at_every_level(rows):
    actual, plan = _frames(rows)
    total = pvm_bridge(actual, plan)
    _assert_rows_add_up(total)
    grouped = pvm_bridge(actual, plan, group_cols=["family"])
    _assert_rows_add_up(grouped)
    parts, grand = grouped.iloc[:-1], grouped.iloc[-1]
    numeric = BRIDGE_COLUMNS[1:]
    np.testing.assert_allclose(parts[numeric].sum().to_numpy(float), grand[numeric].to_numpy(float), atol=TOL)
    np.testing.assert_allclose(grand[numeric].to_numpy(float), total.iloc[0][numeric].to_numpy(float), atol=TOL)
    between = grouped[grouped["level"] == "between_groups"].iloc[0]
    assert between["volume_effect"] == pytest.approx(-between["mix_effect"], abs=TOL)
    by_sku = pvm_sku_contributions(actual, plan)
    _assert_rows_add_up(by_sku)
    np.testing.assert_allclose(by_sku[EFFECTS].sum().to_numpy(float), total.iloc[0][EFFECTS].to_numpy(float), atol=TOL)
    family_plan = pvm_bridge_family_plan(actual, plan.groupby("family", as_index=False)[["units", "revenue"]].sum())
    _assert_rows_add_up(family_plan)
    np.testing.assert_allclose(
        family_plan.iloc[:-1][EFFECTS].sum().to_numpy(float), family_plan.iloc[-1][EFFECTS].to_numpy(float), atol=TOL
    )


@settings(max_examples=25, deadline=None, database=None)
@given(_sku_rows)
def test_one_sided_skus_have_no_price_effect(rows):
    actual, plan = _frames([r[:6] + (False,) for r in rows])
    by_sku = pvm_sku_contributions(actual, plan).set_index("sku")
    one_sided = by_sku[(by_sku["units_plan"] == 0) | (by_sku["units_actual"] == 0)]
    np.testing.assert_allclose(one_sided["price_effect"], 0.0, atol=TOL)


def test_zero_totals():
    empty = pd.DataFrame(columns=["sku", "family", "units", "revenue"])
    only_actual = pvm_bridge(ACTUAL, empty, group_cols=["family"]).iloc[-1]
    assert [only_actual[c] for c in EFFECTS] == pytest.approx([0.0, 0.0, 3360.0])  # all new: mix
    only_plan = pvm_bridge(empty, PLAN).iloc[-1]
    assert [only_plan[c] for c in EFFECTS] == pytest.approx([0.0, -3000.0, 0.0])  # all gone: volume
    nothing = pvm_bridge(empty, empty).iloc[-1]
    assert [nothing[c] for c in [*EFFECTS, "total_difference"]] == [0.0, 0.0, 0.0, 0.0]
