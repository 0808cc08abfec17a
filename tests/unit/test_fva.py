"""Forecast value added (sop_pipeline.analytics.fva) on frames small enough to check by hand."""

import numpy as np
import pandas as pd
import pytest

from sop_pipeline.analytics import fva

ORIGIN = pd.Timestamp("2026-11-01")  # a Sunday: horizon week 1 starts 2026-11-02
WEEK1 = pd.Timestamp("2026-11-02")


def _errors(rows):
    """Backtest rows from (sku, family, week_start, lag, actual, naive, lightgbm, sales)."""
    out = []
    for sku, family, week, lag, actual, naive, lgb, sales in rows:
        for method, f in (("seasonal_naive", naive), ("lightgbm", lgb), ("sales_forecast", sales)):
            out.append((ORIGIN, sku, family, pd.Timestamp(week), lag, method, f, actual))
    return pd.DataFrame(
        out, columns=["origin", "sku", "family", "week_start", "lag", "method", "forecast_units", "actual_units"]
    )


def _override(**kw):
    row = dict(override_id="O1", level="sku", key="A", week_from="2026-11-04", week_to="2026-11-04", mode="pct",
               value=10.0, profile="", reason="", author="", approved=True, created_at="2026-10-30T09:00:00")  # fmt: skip
    row.update(kw)
    return pd.DataFrame([row])


def test_every_step_by_hand():
    # A: actual 10, naive 6, statistical 9, sales 14; B: actual 10, naive 14, statistical 12, sales 10
    errors = _errors([("A", "F", WEEK1, 1, 10, 6, 9, 14), ("B", "F", WEEK1, 1, 10, 14, 12, 10)])
    plans = pd.DataFrame(
        {"cycle_id": [ORIGIN, ORIGIN], "sku": ["A", "B"], "week_start": [WEEK1, WEEK1], "demand_units": [11.0, 13.0]}
    )
    steps = fva.step_frame(errors, plans, _override())
    # the override (A +10 %, created before the origin) sets A to 9.9 and leaves B at 12
    assert steps.set_index("sku").override.to_dict() == pytest.approx({"A": 9.9, "B": 12.0})
    t = fva.forecast_value_added(steps)
    f = t[t.family == "F"].set_index("step")
    # WAPE: naive (4+4)/20 = 40 %, statistical (1+2)/20 = 15 %, sales (4+0)/20 = 20 %,
    # override (0.1+2)/20 = 10.5 %, consensus (1+3)/20 = 20 %
    assert f.wape_pct.to_dict() == pytest.approx(
        {"naive": 40, "statistical": 15, "sales_input": 20, "override": 10.5, "consensus": 20}
    )
    assert f.bias_pct.to_dict() == pytest.approx(
        {"naive": 0, "statistical": 5, "sales_input": 20, "override": 9.5, "consensus": 20}
    )
    # FVA = WAPE(step it builds on) - WAPE(step), in points: sales input and override on statistical
    assert f.fva_points.drop("naive").to_dict() == pytest.approx(
        {"statistical": 25, "sales_input": -5, "override": 4.5, "consensus": -9.5}
    )
    assert np.isnan(f.loc["naive", "fva_points"])
    assert f.verdict.to_dict() == {
        "naive": "",
        "statistical": "added",
        "sales_input": "destroyed",
        "override": "added",
        "consensus": "destroyed",
    }
    assert f.fva_vs_naive_points.consensus == pytest.approx(20.0)
    assert (f.sku_weeks == 2).all() and (f.lag_bucket == "1").all()
    assert fva.fva_breaks(t) == []
    # one family: All families is the same numbers
    assert t[t.family == fva.ALL_FAMILIES].wape_pct.tolist() == pytest.approx(f.wape_pct.tolist())


def test_missing_steps_have_a_reason_and_are_not_zero():
    errors = _errors([("A", "F", WEEK1 + pd.Timedelta(weeks=2), 3, 10, 6, 9, 14)])
    unapproved = _override(week_from="2026-11-18", week_to="2026-11-18", approved=False)
    t = fva.forecast_value_added(fva.step_frame(errors, None, unapproved))
    f = t[t.family == "F"].set_index("step")
    assert f.lag_bucket.unique().tolist() == ["2-4"]
    assert f.loc[["override", "consensus"], "status"].tolist() == ["missing", "missing"]
    assert f.loc[["override", "consensus"], "wape_pct"].isna().all()
    assert "override" in f.loc["override", "reason"] and "plan of record" in f.loc["consensus", "reason"]
    assert f.loc["sales_input", "compared_with"] == "statistical"
    assert fva.fva_breaks(t) == []


def test_an_override_created_after_the_origin_is_not_replayed_and_consensus_restricts_the_rows():
    errors = _errors([("A", "F", WEEK1, 1, 10, 6, 9, 14), ("B", "F", WEEK1, 1, 10, 14, 12, 10)])
    late = _override(created_at="2026-11-02T09:00:00")
    plans = pd.DataFrame({"cycle_id": [ORIGIN], "sku": ["B"], "week_start": [WEEK1], "demand_units": [9.0]})
    t = fva.forecast_value_added(fva.step_frame(errors, plans, late))
    f = t[t.family == "F"].set_index("step")
    assert f.loc["override", "status"] == "missing"
    # consensus exists for B only: every step is scored on B's row (naive 40 %, statistical 20 %, consensus 10 %)
    assert (f.loc[f.status == "scored", "sku_weeks"] == 1).all()
    assert f.loc[["naive", "statistical", "sales_input", "consensus"], "wape_pct"].tolist() == pytest.approx(
        [40, 20, 0, 10]
    )
    # the override is missing: the consensus compares with the statistical forecast it falls back to
    assert f.loc["consensus", "compared_with"] == "statistical"
    assert f.loc["consensus", "fva_points"] == pytest.approx(10)


def test_breaks_name_a_wrong_fva_and_a_negative_error():
    errors = _errors([("A", "F", WEEK1, 1, 10, 6, 9, 14)])
    t = fva.forecast_value_added(fva.step_frame(errors))
    t.loc[(t.family == "F") & (t.step == "statistical"), "fva_points"] += 1.0
    t.loc[(t.family == "F") & (t.step == "naive"), "wape_pct"] = -1.0
    breaks = fva.fva_breaks(t)
    assert any("F lag 1 statistical: fva_points" in b for b in breaks)
    assert any("F lag 1 naive: WAPE -1.0" in b for b in breaks)


def test_a_cycle_leaves_overrides_whose_weeks_are_all_past_to_fva():
    """The cycle's own override log keeps overrides that reach horizon week 1 or later; earlier ones are history."""
    from sop_pipeline.analytics.calendar import Cycle
    from sop_pipeline.assets.demand_review import this_cycles_overrides

    staged = pd.DataFrame(
        {
            "override_id": ["past", "ends_in_week_1", "future"],
            "week_to": pd.to_datetime(["2026-11-01", "2026-11-03", "2027-01-06"]).date,
            "override_level": "sku",
        }
    )
    kept = this_cycles_overrides(staged, Cycle(ORIGIN.date()))  # week 1 starts 2026-11-02
    assert kept.override_id.tolist() == ["ends_in_week_1", "future"] and "level" in kept
