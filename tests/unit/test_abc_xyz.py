"""ABC (revenue) x XYZ (variability) on hand-made weekly sales with answers worked out by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from sop_pipeline.analytics.abc_xyz import ABC_XYZ_COLUMNS, classify_abc_xyz, window_weeks

AS_OF = date(2025, 3, 30)  # a Sunday: window = the 4 weeks starting 03-03, 03-10, 03-17, 03-24
WEEKS = ["2025-03-03", "2025-03-10", "2025-03-17", "2025-03-24"]


def _rows(sku: str, family: str, units: list[float | None], revenue_total: float) -> list[dict]:
    """One row per window week with units (None = no row that week); revenue split evenly."""
    present = [(w, u) for w, u in zip(WEEKS, units) if u is not None]
    return [
        {"sku": sku, "family": family, "week_start": w, "units": u, "revenue": revenue_total / len(present)}
        for w, u in present
    ]


@pytest.fixture
def weekly() -> pd.DataFrame:
    rows = (
        # revenue 50 -> share .50, share before 0 -> A. units 10 every week: sd 0, cv 0 -> X
        _rows("S1", "F1", [10, 10, 10, 10], 50)
        # revenue 30 -> share before .50 -> A. Sold before the window (row on 02-24), so all 4
        # weeks count; weeks 2 and 4 have no row -> 0 units: [20, 0, 20, 0], mean 10,
        # sd = sqrt(4 x 10^2 / 3) = 11.547, cv 1.1547 -> Z
        + _rows("S2", "F1", [20, None, 20, None], 30)
        + [{"sku": "S2", "family": "F1", "week_start": "2025-02-24", "units": 5, "revenue": 100}]
        # revenue 15 -> share before exactly .80 -> not A (A only while the share *before* < 80%) -> B.
        # New item, first sale in week 3: counted weeks [6, 12], mean 9, sd = sqrt(18) = 4.243,
        # cv 0.4714 -> X (counting the two zero weeks before launch would give cv 1.1 -> Z)
        + _rows("S3", "F2", [None, None, 6, 12], 15)
        # revenue 4 -> share before .95 -> C. units [2, 6, 2, 6]: mean 4, sd = sqrt(4 x 4 / 3) = 2.309,
        # cv 0.5774 -> Y
        + _rows("S4", "F2", [2, 6, 2, 6], 4)
        # revenue 1 -> C. units [1, 0, 0, 0] (sold before the window): mean .25, sd .5, cv 2 -> Z
        + _rows("S5", "F2", [1, None, None, None], 1)
        + [{"sku": "S5", "family": "F2", "week_start": "2025-01-06", "units": 1, "revenue": 0}]
        # sold only before the window: revenue 0 -> C, mean 0 -> cv undefined -> Z
        + [{"sku": "S6", "family": "F3", "week_start": "2025-01-06", "units": 3, "revenue": 30}]
        # after as-of: ignored (no look-ahead)
        + [
            {"sku": "S5", "family": "F2", "week_start": "2025-03-31", "units": 1000, "revenue": 1e6},
            {"sku": "S9", "family": "F9", "week_start": "2025-04-07", "units": 5, "revenue": 50},
        ]
    )
    return pd.DataFrame(rows)


def test_window_is_full_iso_weeks_ending_on_or_before_as_of():
    assert window_weeks(date(2025, 3, 30), 52)[0] == date(2024, 4, 1)
    assert window_weeks(date(2025, 3, 30), 52)[-1] == date(2025, 3, 24)  # Sunday: its own week is complete
    assert window_weeks(date(2025, 3, 31), 52)[-1] == date(2025, 3, 24)  # Monday: week 0 is partial
    assert window_weeks(date(2025, 4, 2), 4) == [date(2025, 3, d) for d in (3, 10, 17, 24)]
    assert len(window_weeks(date(2025, 4, 2))) == 52


def test_hand_worked_classes(weekly):
    out = classify_abc_xyz(weekly, AS_OF, weeks=4)
    assert list(out.columns) == ABC_XYZ_COLUMNS
    assert list(out["sku"]) == ["S1", "S2", "S3", "S4", "S5", "S6"]  # revenue rank order
    got = out.set_index("sku")
    assert got["revenue_12m"].tolist() == [50, 30, 15, 4, 1, 0]
    assert got["revenue_share"].tolist() == pytest.approx([0.50, 0.30, 0.15, 0.04, 0.01, 0.0])
    assert got["cumulative_share"].tolist() == pytest.approx([0.50, 0.80, 0.95, 0.99, 1.0, 1.0])
    assert got["abc_xyz"].to_dict() == {"S1": "AX", "S2": "AZ", "S3": "BX", "S4": "CY", "S5": "CZ", "S6": "CZ"}
    assert got.loc["S2", "mean_weekly_units"] == pytest.approx(10.0)
    assert got.loc["S2", "sd_weekly_units"] == pytest.approx(np.sqrt(400 / 3))
    assert got.loc["S3", "mean_weekly_units"] == pytest.approx(9.0)
    assert got.loc["S3", "cv"] == pytest.approx(np.sqrt(18) / 9)
    assert got.loc["S4", "cv"] == pytest.approx(np.sqrt(16 / 3) / 4)
    assert got.loc["S5", "cv"] == pytest.approx(2.0)
    assert got.loc["S1", "cv"] == 0.0
    assert np.isnan(got.loc["S6", "cv"]) and got.loc["S6", "mean_weekly_units"] == 0.0
    assert "S9" not in got.index  # only seen after as-of


def test_mid_week_as_of_ignores_the_partial_week(weekly):
    partial = pd.DataFrame([{"sku": "S4", "family": "F2", "week_start": "2025-03-31", "units": 500, "revenue": 900}])
    wednesday = classify_abc_xyz(pd.concat([weekly, partial]), date(2025, 4, 2), weeks=4)
    pd.testing.assert_frame_equal(wednesday, classify_abc_xyz(weekly, AS_OF, weeks=4))


def test_sku_that_crosses_80_percent_is_a_and_ties_break_by_sku():
    rows = pd.DataFrame(
        {
            "sku": ["Q", "P", "R", "T"],
            "family": "F",
            "week_start": "2025-03-24",
            "units": 1.0,
            "revenue": [35.0, 35.0, 20.0, 10.0],
        }
    )
    out = classify_abc_xyz(rows, AS_OF, weeks=4)
    # P and Q tie at 35: P first. Shares before: P 0, Q .35, R .70 (< .80, crosses to .90 -> still A), T .90 -> B
    assert list(out["sku"]) == ["P", "Q", "R", "T"]
    assert list(out["abc"]) == ["A", "A", "A", "B"]


def test_custom_cuts_and_items_without_sales(weekly):
    items = pd.DataFrame({"sku": ["S1", "S7"], "family": ["F1-master", "F7"]})
    out = classify_abc_xyz(weekly, AS_OF, weeks=4, abc_cuts=(0.5, 0.9), xyz_cuts=(0.3, 0.6), items=items)
    got = out.set_index("sku")
    # shares before: S1 0 -> A, S2 .5 -> B, S3 .8 -> B, S4 .95 -> C
    assert got["abc"].to_dict() == {"S1": "A", "S2": "B", "S3": "B", "S4": "C", "S5": "C", "S6": "C", "S7": "C"}
    # cv S3 .471 -> Y (<= .6), S4 .577 -> Y, S1 0 -> X
    assert got.loc[["S1", "S3", "S4", "S7"], "xyz"].tolist() == ["X", "Y", "Y", "Z"]
    assert got.loc["S1", "family"] == "F1-master"  # the item master wins
    assert got.loc["S7", "revenue_12m"] == 0.0


def test_zero_revenue_everywhere_is_all_c_z():
    rows = pd.DataFrame({"sku": ["A", "B"], "family": "F", "week_start": "2025-03-24", "units": 0.0, "revenue": 0.0})
    out = classify_abc_xyz(rows, AS_OF, weeks=4)
    assert out["abc_xyz"].tolist() == ["CZ", "CZ"]
    assert out["revenue_share"].tolist() == [0.0, 0.0]


def test_planner_readable_errors(weekly):
    with pytest.raises(ValueError, match="missing column.*revenue"):
        classify_abc_xyz(weekly.drop(columns="revenue"), AS_OF)
    with pytest.raises(ValueError, match="abc_cuts"):
        classify_abc_xyz(weekly, AS_OF, abc_cuts=(0.95, 0.8))
