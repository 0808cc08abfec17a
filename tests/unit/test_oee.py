"""OEE: textbook case, weekly weighting (sums first), loss hours that add up."""

from __future__ import annotations

import pandas as pd
import pytest

from sop_pipeline.analytics.oee import availability, oee_daily, oee_from_factors, oee_weekly


def day(date, planned, run, ideal, total, good, resource="M1", **extra):
    return {
        "date": pd.Timestamp(date),
        "resource_id": resource,
        "planned_hours": planned,
        "run_hours": run,
        "ideal_units": ideal,
        "total_units": total,
        "good_units": good,
        **extra,
    }


def test_textbook_case():
    # availability 0.9, performance 0.95, quality 0.99 -> OEE 0.846
    rt = pd.DataFrame([day("2026-03-02", 10.0, 9.0, 1000.0, 950.0, 940.5)])
    out = oee_daily(rt).iloc[0]
    assert out["availability"] == pytest.approx(0.9)
    assert out["performance"] == pytest.approx(0.95)
    assert out["quality"] == pytest.approx(0.99)
    assert out["oee"] == pytest.approx(0.9 * 0.95 * 0.99)
    assert round(out["oee"], 3) == 0.846
    assert oee_from_factors(0.9, 0.95, 0.99) == pytest.approx(0.84645)


def test_losses_add_up_to_planned_hours():
    rt = pd.DataFrame([day("2026-03-02", 10.0, 9.0, 1000.0, 950.0, 940.5)])
    out = oee_daily(rt).iloc[0]
    assert out["availability_loss_hours"] == pytest.approx(1.0)
    assert out["performance_loss_hours"] == pytest.approx(9.0 * 0.05)
    assert out["quality_loss_hours"] == pytest.approx(9.0 * 9.5 / 1000)
    total = (
        out["availability_loss_hours"]
        + out["performance_loss_hours"]
        + out["quality_loss_hours"]
        + out["fully_productive_hours"]
    )
    assert total == pytest.approx(10.0)
    assert out["fully_productive_hours"] == pytest.approx(out["oee"] * 10.0)


def test_weekly_sums_first_then_ratios():
    rt = pd.DataFrame(
        [
            day("2026-03-02", 16.0, 16.0, 1600.0, 1600.0, 1600.0),  # a perfect long day
            day("2026-03-03", 4.0, 1.0, 100.0, 50.0, 25.0),  # a bad short day
            day("2026-03-09", 8.0, 8.0, 800.0, 800.0, 800.0),  # next ISO week
        ]
    )
    weekly = oee_weekly(rt).set_index("week_start")
    w = weekly.loc[pd.Timestamp("2026-03-02")]
    assert w["days"] == 2
    assert w["availability"] == pytest.approx(17.0 / 20.0)
    assert w["performance"] == pytest.approx((16.0 + 0.5) / 17.0)
    assert w["quality"] == pytest.approx((16.0 + 0.25) / 16.5)
    assert w["oee"] == pytest.approx(16.25 / 20.0)  # not the mean of daily OEEs (1.0 and 0.0625)
    assert w["oee"] == pytest.approx(w["availability"] * w["performance"] * w["quality"])
    assert weekly.loc[pd.Timestamp("2026-03-09"), "oee"] == pytest.approx(1.0)


def test_availability_loss_split_with_given_parts():
    rt = pd.DataFrame(
        [day("2026-03-04", 16.0, 11.0, 1100.0, 1100.0, 1100.0, planned_downtime_hours=2.0, changeover_hours=1.5)]
    )
    out = oee_daily(rt).iloc[0]
    assert out["planned_downtime_loss_hours"] == 2.0
    assert out["changeover_loss_hours"] == 1.5
    assert out["unplanned_downtime_loss_hours"] == pytest.approx(1.5)  # the rest of the 5 h
    rt2 = rt.assign(unplanned_downtime_hours=1.0)
    out2 = oee_daily(rt2).iloc[0]
    assert out2["unplanned_downtime_loss_hours"] == 1.0
    assert out2["other_availability_loss_hours"] == pytest.approx(0.5)


def test_edge_cases_and_bad_rows():
    rt = pd.DataFrame([day("2026-03-02", 8.0, 0.0, 0.0, 0.0, 0.0), day("2026-03-03", 0.0, 0.0, 0.0, 0.0, 0.0)])
    out = oee_daily(rt)
    assert out.iloc[0]["oee"] == 0.0 and out.iloc[0]["availability"] == 0.0
    assert pd.isna(out.iloc[1]["oee"])
    with pytest.raises(ValueError, match="cannot exceed planned"):
        oee_daily(pd.DataFrame([day("2026-03-02", 8.0, 9.0, 900.0, 900.0, 900.0)]))
    with pytest.raises(ValueError, match="good units cannot exceed"):
        oee_daily(pd.DataFrame([day("2026-03-02", 8.0, 8.0, 800.0, 700.0, 701.0)]))
    assert availability(9.0, 10.0) == pytest.approx(0.9)
