"""The empirical-quantile safety-stock option (sop_pipeline.analytics.safety_stock) on a hand-made error series."""

import numpy as np
import pandas as pd
import pytest

from sop_pipeline.analytics import safety_stock as ss

ORIGINS = pd.date_range("2026-01-04", periods=20, freq="7D")


def _backtest(errors_lag1, mean=10.0, sku="A", lags=1):
    """Backtest rows whose lag-1 error (actual - forecast) at origin i is errors_lag1[i] (deeper lags: 0 error)."""
    rows = []
    for o, e in zip(ORIGINS, errors_lag1):
        for lag in range(1, lags + 1):
            err = e if lag == 1 else 0.0
            rows.append((o, sku, lag, "lightgbm", mean, mean + err))
    return pd.DataFrame(rows, columns=["origin", "sku", "lag", "method", "forecast_units", "actual_units"])


def _policy(service_type, target, lead=0.0, lead_sd=0.0, review=1.0, mean=10.0, sku="A", abc="AX"):
    return pd.DataFrame(
        {
            "sku": [sku],
            "abc_xyz": [abc],
            "service_type": [service_type],
            "service_target": [target],
            "mean_weekly_demand": [mean],
            "lead_time_mean_weeks": [lead],
            "lead_time_sd_weeks": [lead_sd],
            "review_period_weeks": [review],
            "order_qty_units": [mean * review],
            "lead_time_demand_units": [mean * (lead + review)],
            "sigma_dl_units": [5.0],
            "method": ["normal"],
            "policy": ["service_target"],
            "k": [1.0],
            "safety_stock_units": [5.0],
            "reorder_point_units": [mean * (lead + review) + 5.0],
            "unit_cost": [2.0],
            "safety_stock_value": [10.0],
        }
    )


ERRORS = np.arange(-10.0, 10.0)  # 20 one-week errors: -10, -9, ..., 9


def test_lead_time_error_sums_add_the_lags_of_one_origin():
    bt = _backtest(ERRORS, lags=3)
    sums = ss.lead_time_error_sums(bt)
    first = sums[sums.origin == ORIGINS[0]].set_index("n").error_units
    assert first.to_dict() == {1: -10.0, 2: -10.0, 3: -10.0}


def test_cycle_service_is_the_quantile_of_the_errors():
    # P = L + R = 1 week: the 90 % quantile of -10..9 (linear) = -10 + 0.9 x 19 = 7.1 units
    out = ss.empirical_quantile_policies(_policy("cycle", 0.90), ss.lead_time_error_sums(_backtest(ERRORS)))
    r = out.iloc[0]
    assert r.safety_stock_units == pytest.approx(7.1)
    assert r.reorder_point_units == pytest.approx(10.0 + 7.1)
    assert r.safety_stock_value == pytest.approx(14.2) and r.k == pytest.approx(7.1 / 5.0)
    assert r.ss_method == "empirical_quantile" and r.error_windows == 20


def test_fill_rate_solves_the_empirical_loss():
    # beta 90 %, Q = one week = 10 units: E[(X - s)+] <= 1.0. On -10..9: loss(3) = (1+..+6)/20 = 1.05,
    # loss(4) = (1+..+5)/20 = 0.75, linear between: s = 3 + 0.05 / 0.30 = 3.1667 (above the 60 % quantile 1.4)
    out = ss.empirical_quantile_policies(_policy("fill_rate", 0.90), ss.lead_time_error_sums(_backtest(ERRORS)))
    assert out.iloc[0].safety_stock_units == pytest.approx(3 + 0.05 / 0.30)


def test_the_minimum_cycle_service_floors_it():
    # beta 99 % wants more; beta 50 % would give less than the floor: the 50 % quantile of -10..9 = -0.5 -> 0
    low = ss.empirical_quantile_policies(_policy("fill_rate", 0.50), ss.lead_time_error_sums(_backtest(ERRORS)))
    assert low.iloc[0].safety_stock_units == pytest.approx(0.0)
    floored = ss.empirical_quantile_policies(
        _policy("fill_rate", 0.70), ss.lead_time_error_sums(_backtest(ERRORS)), min_cycle_service=0.6
    )
    # the fill rate alone: loss <= 3.0 at s = -2 (loss(-2) = (1+..+11)/20 = 3.3, loss(-1) = 2.75 -> -1.545);
    # the 60 % quantile 1.4 is above it
    assert floored.iloc[0].safety_stock_units == pytest.approx(1.4)


def test_a_sku_with_few_windows_borrows_its_class_scaled_to_its_demand():
    bt = pd.concat([_backtest(ERRORS, mean=10.0, sku="A"), _backtest(ERRORS[:5], mean=20.0, sku="B")])
    policies = pd.concat([_policy("cycle", 0.9, sku="A"), _policy("cycle", 0.9, sku="B", mean=20.0)], ignore_index=True)
    out = ss.empirical_quantile_policies(policies, ss.lead_time_error_sums(bt)).set_index("sku")
    # B has 5 sums < 12: the class pool (A's 20 relative errors -1.0..0.9 and B's 5: -0.5..-0.3) x 20 units
    rel = np.concatenate([ERRORS / 10.0, ERRORS[:5] / 20.0])
    assert out.loc["B", "ss_method"] == "empirical_quantile_class_pool"
    assert out.loc["B", "safety_stock_units"] == pytest.approx(np.quantile(rel, 0.9) * 20.0)


def test_no_errors_keeps_the_sigma_policy_and_run_out_keeps_none():
    p = pd.concat(
        [_policy("cycle", 0.9), _policy("cycle", 0.9, sku="Z").assign(policy="run_out", safety_stock_units=0.0)]
    )
    out = ss.empirical_quantile_policies(p, ss.lead_time_error_sums(_backtest([], sku="Q"))).set_index("sku")
    assert out.loc["A", "ss_method"] == "sigma_fallback" and out.loc["A", "safety_stock_units"] == 5.0
    assert out.loc["Z", "ss_method"] == "run_out" and out.loc["Z", "safety_stock_units"] == 0.0
