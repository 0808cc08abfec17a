"""Safety stock, reorder points, service-vs-inventory curves and their simulation check.

Textbook cases cite the formula source and recompute every number by hand in the comment;
the exact example numbering differs between editions, so the numbers asserted are the hand
computations, not a page reference.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from sop_pipeline.analytics.safety_stock import (
    DEFAULT_SERVICE_TARGETS,
    SERVICE_LEVEL_GRID,
    TOTAL_FAMILY,
    SafetyStockInputError,
    choose_method,
    demand_variability,
    economic_order_quantity,
    gamma_loss,
    safety_stock,
    safety_stock_policies,
    service_inventory_curve,
    service_target_overrides,
    service_targets,
    standard_normal_loss,
    unprotected_items,
)
from sop_pipeline.analytics.safety_stock_sim import simulate_service

# --------------------------------------------------------------------------- loss functions


def test_standard_normal_loss_matches_the_printed_table():
    # G(k) = phi(k) - k (1 - Phi(k)); values as printed in standard normal loss tables
    # (e.g. the G_u(k) table in Silver, Pyke & Thomas' appendix): G(0) = 0.3989,
    # G(0.5) = 0.1978, G(1) = 0.0833, G(1.5) = 0.0293, G(2) = 0.0085.
    table = {0.0: 0.3989, 0.5: 0.1978, 1.0: 0.0833, 1.5: 0.0293, 2.0: 0.0085}
    for k, g in table.items():
        assert standard_normal_loss(k) == pytest.approx(g, abs=6e-5)
    # G(k) - G(-k) = -k, the identity behind k < 0 when Q is large
    assert standard_normal_loss(-1.3) - standard_normal_loss(1.3) == pytest.approx(1.3)


@pytest.mark.parametrize("shape,scale,x", [(0.3, 10.0, 2.0), (1.0, 5.0, 7.0), (4.0, 2.5, 12.0), (25.0, 1.0, 20.0)])
def test_gamma_loss_equals_the_integral_of_the_tail(shape, scale, x):
    # E[(X - x)+] = integral from x to infinity of (1 - F(t)) dt (trapezoid rule on a fine grid)
    t = np.linspace(x, x + 200.0 * scale * max(shape, 1.0), 400_001)
    tail = np.trapezoid(special.gammaincc(shape, t / scale), t)
    assert gamma_loss(x, shape, scale) == pytest.approx(tail, rel=1e-6)
    assert gamma_loss(-3.0, shape, scale) == pytest.approx(shape * scale + 3.0)


# --------------------------------------------------------------------------- textbook cases


def test_cycle_service_chopra_meindl_lego_continuous_review():
    # Chopra & Meindl, Supply Chain Management, safety-inventory chapter (Lego at Walmart):
    # D = 2,500 boxes/week, sigma_D = 500, L = 2 weeks, CSL = 0.90.
    # sigma_L = sqrt(2) * 500 = 707.1; ss = NORMSINV(0.90) * 707.1 = 1.2816 * 707.1 = 906.2;
    # ROP = D * L + ss = 5,000 + 906.2 = 5,906.2.
    r = safety_stock(2500, 500, 2, 0, service_level=0.90, service_type="cycle")
    assert r.method == "normal"
    assert r.sigma_dl == pytest.approx(707.107, abs=1e-3)
    assert r.k == pytest.approx(1.28155, abs=1e-5)
    assert r.safety_stock == pytest.approx(906.2, abs=0.1)
    assert r.reorder_point == pytest.approx(5906.2, abs=0.1)


def test_cycle_service_with_lead_time_variability_chopra_meindl_dell():
    # Chopra & Meindl, same chapter, lead-time uncertainty (Dell / Lexmark): D = 2,500/day,
    # sigma_D = 500, L = 7 days, s_L = 7 days, CSL = 0.90.
    # sigma_L = sqrt(7 * 500^2 + 2,500^2 * 7^2) = sqrt(1,750,000 + 306,250,000) = 17,549.9;
    # ss = 1.2816 * 17,549.9 = 22,491. With s_L = 0: sqrt(7) * 500 * 1.2816 = 1,695.
    r = safety_stock(2500, 500, 7, 7, service_level=0.90, method="normal")
    assert r.sigma_dl == pytest.approx(17549.93, abs=0.01)
    assert r.safety_stock == pytest.approx(22491, abs=1)
    assert safety_stock(2500, 500, 7, 0, 0.90, method="normal").safety_stock == pytest.approx(1695.3, abs=0.1)
    # sigma_L / mean = 17,550 / 17,500 > 0.5: the auto rule uses the gamma instead (right-skewed,
    # so more stock than the normal for the same alpha), and it still meets the target exactly.
    auto = safety_stock(2500, 500, 7, 7, service_level=0.90)
    assert auto.method == "gamma"
    assert auto.safety_stock > r.safety_stock
    shape, scale = (17500 / auto.sigma_dl) ** 2, auto.sigma_dl**2 / 17500
    assert special.gammainc(shape, auto.reorder_point / scale) == pytest.approx(0.90, abs=1e-9)


def test_fill_rate_chopra_meindl_lego_given_fill_rate():
    # Chopra & Meindl, same chapter (Lego): D = 2,500/week, sigma_D = 500, L = 2 weeks,
    # Q = 10,000, desired fill rate 0.975.
    # ESC = (1 - fr) Q = 250; G(k) = 250 / 707.1 = 0.3536 (table: G(0.09) = 0.3556,
    # G(0.10) = 0.3509) -> k = 0.0943; ss = 0.0943 * 707.1 = 66.7 (the book rounds to 67).
    # (k = 0.0943 is a cycle service of 53.8 %: the minimum-cycle-service floor is switched off)
    r = safety_stock(
        2500, 500, 2, 0, service_level=0.975, service_type="fill_rate", order_qty=10000, min_cycle_service=None
    )
    assert r.k == pytest.approx(0.0943, abs=1e-4)
    assert r.safety_stock == pytest.approx(66.7, abs=0.1)
    assert r.reorder_point == pytest.approx(5066.7, abs=0.1)
    assert r.expected_fill_rate == pytest.approx(0.975, abs=1e-9)


def test_fill_rate_chopra_meindl_lego_evaluated_backwards():
    # Chopra & Meindl (Lego, Q = 10,000, ss = 1,000): k = 1,000 / 707.1 = 1.4142;
    # ESC = 707.1 * G(1.4142) = 707.1 * 0.03553 = 25.13; fr = 1 - 25.13 / 10,000 = 0.99749.
    # Asking for that fill rate must give back ss = 1,000.
    r = safety_stock(2500, 500, 2, 0, service_level=1 - 25.127 / 10000, service_type="fill_rate", order_qty=10000)
    assert r.k == pytest.approx(math.sqrt(2), abs=1e-4)
    assert r.safety_stock == pytest.approx(1000.0, abs=0.1)


def test_fill_rate_with_lead_time_variability_hand_computed():
    # Formula: Silver, Pyke & Thomas, ch. 6 (B2 / fill-rate service, sigma_DL * G(k) = (1 - P2) Q)
    # with sigma_DL from the lead-time-variability formula. D = 100/week, sigma_D = 30,
    # L = 4 weeks, sigma_L = 1 week, Q = 500, beta = 0.98.
    # sigma_DL = sqrt(4 * 30^2 + 100^2 * 1^2) = sqrt(13,600) = 116.62;
    # G(k) = 0.02 * 500 / 116.62 = 0.08575; table G(0.98) = 0.08654, G(0.99) = 0.08491
    # -> k = 0.9848; SS = 0.9848 * 116.62 = 114.85; ROP = 400 + 114.85 = 514.85.
    r = safety_stock(100, 30, 4, 1, service_level=0.98, service_type="fill_rate", order_qty=500)
    assert r.sigma_dl == pytest.approx(116.619, abs=1e-3)
    assert r.k == pytest.approx(0.9848, abs=1e-4)
    assert r.safety_stock == pytest.approx(114.85, abs=0.01)
    assert r.reorder_point == pytest.approx(514.85, abs=0.01)
    # same item, cycle service 0.95: SS = 1.6449 * 116.62 = 191.82
    assert safety_stock(100, 30, 4, 1, 0.95).safety_stock == pytest.approx(191.82, abs=0.01)


def test_review_period_extends_the_protection_interval():
    # (R, s, Q): protection L + R. D = 100, sigma_D = 30, L = 3, R = 1, alpha = 0.95:
    # sigma = sqrt(4 * 900) = 60; SS = 1.6449 * 60 = 98.69; ROP = 100 * 4 + 98.69 = 498.69.
    r = safety_stock(100, 30, 3, 0, 0.95, review_period=1)
    assert r.sigma_dl == pytest.approx(60.0)
    assert r.reorder_point == pytest.approx(498.69, abs=0.01)


def test_large_order_quantity_gives_negative_k_and_floored_safety_stock():
    # beta = 0.90, Q = 10 * sigma: G(k) = 1.0 > G(0) = 0.399, so k < 0: G(k) ~ -k gives k ~ -0.92.
    r = safety_stock(50, 10, 1, 0, 0.90, "fill_rate", order_qty=100.0, min_cycle_service=None)
    assert r.k < 0
    assert standard_normal_loss(r.k) == pytest.approx(1.0, abs=1e-9)
    assert r.safety_stock == 0.0
    assert r.reorder_point == pytest.approx(50.0)
    assert r.expected_fill_rate > 0.90  # the floor gives more service than asked


def test_minimum_cycle_service_keeps_safety_stock_on_variable_demand():
    # Same item with the default floor (cycle service >= min(beta, 0.60)): z(0.60) = 0.2533
    # (table Phi(0.25) = 0.5987, Phi(0.26) = 0.6026); sigma_DL = sqrt(1) * 10 = 10;
    # SS = 0.2533 * 10 = 2.533, ROP = 50 + 2.533 = 52.53. k stays the raw fill-rate factor.
    r = safety_stock(50, 10, 1, 0, 0.90, "fill_rate", order_qty=100.0)
    assert r.k < 0 and r.min_cycle_service_binds
    assert r.safety_stock == pytest.approx(2.533, abs=1e-3)
    assert r.reorder_point == pytest.approx(52.533, abs=1e-3)
    assert r.expected_cycle_service == pytest.approx(0.60, abs=1e-9)
    # a target just above 50 % floors at that target: z(0.55) = 0.1257, SS = 1.257 > 0
    assert safety_stock(50, 10, 1, 0, 0.55, "fill_rate", order_qty=100.0).safety_stock == pytest.approx(1.257, abs=1e-3)
    # at 50 % nothing is protected, and a fill-rate k above the floor is left alone
    assert safety_stock(50, 10, 1, 0, 0.50, "fill_rate", order_qty=100.0).safety_stock == 0.0
    high = safety_stock(50, 10, 1, 0, 0.999, "fill_rate", order_qty=100.0)
    assert not high.min_cycle_service_binds and high.safety_stock == pytest.approx(high.k * 10)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(0.1, 500),
    st.floats(0.01, 3.0),
    st.floats(0.02, 8),
    st.floats(0.0, 2),
    st.floats(0.501, 0.999),
    st.sampled_from([0.0, 1.0]),
    st.floats(1.0, 50.0),
)
def test_every_variable_item_above_fifty_percent_carries_safety_stock(d, cv, lead, lead_sd, level, review, weeks):
    frame = pd.DataFrame(
        {
            "sku": ["X"],
            "mean_weekly_demand": [d],
            "sd_weekly_demand": [cv * d],
            "lead_time_mean_weeks": [lead],
            "lead_time_sd_weeks": [lead_sd],
            "review_period_weeks": [review],
            "service_target": [level],
            "order_qty_units": [weeks * d],
        }
    )
    for kind in ("cycle", "fill_rate"):
        assert safety_stock_policies(frame, service_type=kind, exact_loss=True).safety_stock_units.item() > 0


def test_order_up_to_fill_rate_hand_computed():
    # Periodic review (R, S), Silver, Pyke & Thomas ch. 6: protection R + L, shortage per review
    # period sigma_{R+L} * G(k) = (1 - beta) * D * R. D = 100/week, sigma_D = 30, L = 1, R = 1,
    # beta = 0.98: sigma = sqrt(2) * 30 = 42.43; G(k) = 0.02 * 100 / 42.43 = 0.04714;
    # table G(1.28) = 0.04750, G(1.29) = 0.04650 -> k = 1.2836; SS = 54.46; S = 200 + 54.46.
    r = safety_stock(100, 30, 1, 0, 0.98, "fill_rate", review_period=1, min_cycle_service=None)
    assert r.order_qty == 100.0 and r.sigma_dl == pytest.approx(42.426, abs=1e-3)
    assert r.k == pytest.approx(1.2836, abs=2e-4)
    assert r.reorder_point == pytest.approx(254.46, abs=0.02)
    with pytest.raises(SafetyStockInputError, match="continuous review only"):
        safety_stock(100, 30, 1, 0, 0.98, "fill_rate", order_qty=100, review_period=1)


def test_order_up_to_exact_loss_solves_the_two_loss_equation():
    # Exact (R, S) backorder loss per review: E[(D(L+R) - S)+] - E[(D(L) - S)+] = (1 - beta) * D * R,
    # checked by bisection on the normal losses computed here. D = 100, sigma_D = 100 (the lead-time
    # term matters), L = 1, R = 1, beta = 0.9: sigma_P = 141.42, sigma_L = 100.
    r = safety_stock(
        100, 100, 1, 0, 0.90, "fill_rate", review_period=1, exact_loss=True, method="normal", min_cycle_service=None
    )
    sp, sl = math.sqrt(2) * 100, 100.0

    def f(S: float) -> float:
        return sp * standard_normal_loss((S - 200) / sp) - sl * standard_normal_loss((S - 100) / sl) - 10.0

    assert r.reorder_point == pytest.approx(_bisect(f, 0.0, 1000.0), abs=1e-6)
    textbook = safety_stock(100, 100, 1, 0, 0.90, "fill_rate", review_period=1, method="normal", min_cycle_service=None)
    assert r.safety_stock < textbook.safety_stock  # the textbook G(k) counts old backorders again


def test_exact_backorder_loss_needs_less_stock_for_small_orders():
    # sigma * (G(k) - G(k + Q/sigma)) <= sigma * G(k): the exact loss never asks for more stock.
    textbook = safety_stock(100, 40, 2, 0, 0.95, "fill_rate", order_qty=30)
    exact = safety_stock(100, 40, 2, 0, 0.95, "fill_rate", order_qty=30, exact_loss=True)
    assert exact.k < textbook.k
    q = 30 / exact.sigma_dl
    assert standard_normal_loss(exact.k) - standard_normal_loss(exact.k + q) == pytest.approx(0.05 * q, rel=1e-9)


def _bisect(f, lo: float, hi: float) -> float:
    """Root of a decreasing scalar function by plain bisection (independent of the module's solver)."""
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(mid) > 0 else (lo, mid)
    return 0.5 * (lo + hi)


def test_vectorized_solver_matches_bisection_per_item():
    rng = np.random.default_rng(7)
    n = 60
    frame = pd.DataFrame(
        {
            "sku": [f"S{i}" for i in range(n)],
            "mean_weekly_demand": rng.uniform(0.5, 200, n),
            "sd_weekly_demand": rng.uniform(0.1, 150, n),
            "lead_time_mean_weeks": rng.uniform(0.5, 8, n),
            "lead_time_sd_weeks": rng.uniform(0, 2, n),
            "service_target": rng.uniform(0.6, 0.999, n),
            "order_qty_units": rng.uniform(1, 2000, n),
        }
    )
    for method in ("normal", "gamma"):
        out = safety_stock_policies(frame, service_type="fill_rate", method=method)
        for row in out.itertuples():
            mean, sigma = row.lead_time_demand_units, row.sigma_dl_units
            q, beta = row.order_qty_units, row.service_target
            if method == "normal":
                f = lambda k: sigma * standard_normal_loss(k) - (1 - beta) * q  # noqa: E731
            else:
                a, theta = (mean / sigma) ** 2, sigma**2 / mean
                f = lambda k: gamma_loss(mean + k * sigma, a, theta) - (1 - beta) * q  # noqa: E731
            expected = _bisect(f, -q / sigma - 50, 60)
            assert row.k == pytest.approx(expected, abs=1e-7), (method, row.sku)


def test_gamma_cycle_service_uses_the_gamma_quantile():
    r = safety_stock(2.0, 3.0, 2.0, 0.5, 0.95, method="gamma")
    mean, sigma = r.mean_lead_time_demand, r.sigma_dl
    shape, scale = (mean / sigma) ** 2, sigma**2 / mean
    assert r.reorder_point == pytest.approx(special.gammaincinv(shape, 0.95) * scale)


def test_frame_and_scalar_agree():  # rows A, B: order-up-to (R = 1); row C: continuous (s, Q)
    frame = pd.DataFrame(
        {
            "sku": ["A", "B", "C"],
            "mean_weekly_demand": [100.0, 3.0, 40.0],
            "sd_weekly_demand": [30.0, 6.0, 10.0],
            "lead_time_mean_weeks": [4.0, 2.0, 1.0],
            "lead_time_sd_weeks": [1.0, 0.5, 0.0],
            "review_period_weeks": [1.0, 1.0, 0.0],
            "service_target": [0.98, 0.9, 0.95],
            "order_qty_units": [500.0, 20.0, 80.0],
        }
    )
    for kind in ("cycle", "fill_rate"):
        out = safety_stock_policies(frame, service_type=kind)
        for row in out.itertuples():
            one = safety_stock(
                row.mean_weekly_demand,
                row.sd_weekly_demand,
                row.lead_time_mean_weeks,
                row.lead_time_sd_weeks,
                row.service_target,
                kind,
                order_qty=None if row.review_period_weeks > 0 else row.order_qty_units,
                review_period=row.review_period_weeks,
            )
            assert row.order_qty_units == pytest.approx(one.order_qty if one.order_qty else row.order_qty_units)
            assert row.safety_stock_units == pytest.approx(one.safety_stock, rel=1e-9, abs=1e-9)
            assert row.reorder_point_units == pytest.approx(one.reorder_point, rel=1e-9)
            assert row.method == one.method
    assert list(out["method"]) == ["normal", "gamma", "normal"]


def test_policies_fill_order_quantity_from_eoq_or_cover():
    frame = pd.DataFrame(
        {
            "sku": ["A", "B", "C"],
            "mean_weekly_demand": [100.0, 100.0, 0.0],
            "sd_weekly_demand": [30.0, 30.0, 0.0],
            "lead_time_mean_weeks": [2.0, 2.0, 2.0],
            "lead_time_sd_weeks": [0.0, 0.0, 0.0],
            "service_target": [0.95, 0.95, 0.95],
            "unit_cost": [10.0, np.nan, 5.0],
            "order_qty_units": [np.nan, np.nan, np.nan],
        }
    )
    out = safety_stock_policies(frame, service_type="fill_rate")
    # EOQ = sqrt(2 * 5,200 * 50 / (0.25 * 10)) = sqrt(208,000) = 456.07
    assert out.loc[0, "order_qty_units"] == pytest.approx(456.07, abs=0.01)
    assert out.loc[0, "order_qty_source"] == "eoq"
    assert out.loc[1, "order_qty_units"] == pytest.approx(400.0) and out.loc[1, "order_qty_source"] == "cover"
    assert out.loc[2, "method"] == "none" and out.loc[2, "safety_stock_units"] == 0.0
    assert out.loc[0, "safety_stock_value"] == pytest.approx(10 * out.loc[0, "safety_stock_units"])
    assert economic_order_quantity(5200, 10.0) == pytest.approx(456.07, abs=0.01)


def test_input_errors_speak_plainly():
    with pytest.raises(SafetyStockInputError, match="sd of demand is -1"):
        safety_stock(10, -1, 2, 0, 0.95)
    with pytest.raises(SafetyStockInputError, match="strictly between 0 and 1"):
        safety_stock(10, 1, 2, 0, 1.0)
    with pytest.raises(SafetyStockInputError, match="needs the order quantity"):
        safety_stock(10, 1, 2, 0, 0.95, "fill_rate")
    with pytest.raises(SafetyStockInputError, match="unknown service type"):
        safety_stock(10, 1, 2, 0, 0.95, "type3")
    bad = pd.DataFrame(
        {
            "sku": ["X"],
            "mean_weekly_demand": [5.0],
            "sd_weekly_demand": [1.0],
            "lead_time_mean_weeks": [-2.0],
            "lead_time_sd_weeks": [0.0],
            "service_target": [0.9],
        }
    )
    with pytest.raises(SafetyStockInputError, match="lead_time_mean_weeks .* SKU\\(s\\) X"):
        safety_stock_policies(bad)
    with pytest.raises(SafetyStockInputError, match="missing column"):
        safety_stock_policies(bad.drop(columns="sd_weekly_demand"))


# --------------------------------------------------------------------------- distribution rule


def test_method_rule_gamma_for_intermittent_or_skewed_normal_otherwise():
    mean = np.array([100.0, 100.0, 100.0, 0.0])
    sigma = np.array([20.0, 60.0, 20.0, 5.0])
    pattern = np.array(["smooth", "smooth", "lumpy", "smooth"], dtype=object)
    assert list(choose_method(mean, sigma, pattern)) == ["normal", "gamma", "gamma", "none"]
    assert list(choose_method(mean, sigma, pattern, "normal")) == ["normal", "normal", "normal", "none"]


# --------------------------------------------------------------------------- variability inputs


def _weeks(n: int, start: str = "2024-01-01") -> list[pd.Timestamp]:
    return list(pd.date_range(start, periods=n, freq="7D"))


def test_demand_variability_fills_zero_weeks_and_uses_forecast_error():
    weeks = _weeks(12)
    smooth = pd.DataFrame(
        {
            "sku": "S",
            "week_start": weeks,
            "units": [10.0, 12, 8, 10, 11, 9, 10, 12, 8, 10, 11, 9],
            "forecast_units": [11.0, 11, 9, 10, 10, 10, 11, 11, 9, 10, 10, 10],
        }
    )
    # intermittent item: rows only in weeks 3, 7 and 11 -> weeks 3..12 (the last week of the data)
    # count, 7 of 10 zero
    sparse = pd.DataFrame({"sku": "I", "week_start": [weeks[2], weeks[6], weeks[10]], "units": [5.0, 20.0, 2.0]})
    lead = pd.DataFrame({"sku": ["S", "S", "S"], "lead_time_days": [14, 21, 28]})
    out = demand_variability(pd.concat([smooth, sparse]), lead, default_lead_time_weeks=1.0).set_index("sku")

    s = out.loc["S"]
    assert s.n_weeks == 12 and s.mean_weekly_demand == pytest.approx(10.0)
    errors = np.array([1, -1, 1, 0, -1, 1, 1, -1, 1, 0, -1, 1], dtype=float)
    assert s.sd_source == "forecast_error"
    assert s.sd_weekly_demand == pytest.approx(errors.std(ddof=1))
    assert s.mean_forecast_error == pytest.approx(errors.mean())
    assert s.demand_pattern == "smooth" and not s.is_intermittent
    assert s.lead_time_mean_weeks == pytest.approx(3.0) and s.lead_time_sd_weeks == pytest.approx(1.0)
    assert s.lead_time_source == "sku" and s.review_period_weeks == 1.0

    i = out.loc["I"]
    series = np.array([5.0, 0, 0, 0, 20, 0, 0, 0, 2, 0])
    assert i.n_weeks == 10 and i.mean_weekly_demand == pytest.approx(series.mean())
    assert i.sd_source == "demand" and i.sd_weekly_demand == pytest.approx(series.std(ddof=1))
    assert i.zero_week_share == pytest.approx(0.7) and i.adi == pytest.approx(10 / 3)
    assert i.cv2_nonzero == pytest.approx(np.array([5.0, 20, 2]).var() / 9.0**2)
    assert i.is_intermittent and i.demand_pattern == "lumpy"
    assert i.lead_time_source == "default" and i.lead_time_mean_weeks == 1.0


def test_demand_variability_by_supplier_and_by_location():
    weeks = _weeks(4)
    demand = pd.DataFrame(
        {
            "sku": ["A"] * 8,
            "location": ["DC1"] * 4 + ["DC2"] * 4,
            "week_start": weeks * 2,
            "units": [1.0, 2, 3, 4, 10, 10, 10, 10],
        }
    )
    lead = pd.DataFrame({"supplier_id": ["SUP1", "SUP1"], "lead_time_days": [7, 21]})
    out = demand_variability(demand, lead, sku_suppliers=pd.DataFrame({"sku": ["A"], "supplier_id": ["SUP1"]}))
    assert list(out["location"]) == ["DC1", "DC2"]
    assert list(out["mean_weekly_demand"]) == [2.5, 10.0]
    assert (out["lead_time_mean_weeks"] == 2.0).all() and (out["lead_time_source"] == "supplier").all()
    with pytest.raises(SafetyStockInputError, match="sku_suppliers"):
        demand_variability(demand, lead)
    with pytest.raises(SafetyStockInputError, match="no lead-time observations"):
        demand_variability(demand)
    with pytest.raises(SafetyStockInputError, match="7 days apart"):
        demand_variability(
            demand.assign(week_start=[weeks[0] + pd.Timedelta(days=i) for i in range(8)]),
            lead,
            sku_suppliers=pd.DataFrame({"sku": ["A"], "supplier_id": ["SUP1"]}),
        )


# --------------------------------------------------------------------------- service targets


def test_service_targets_most_specific_override_wins():
    items = pd.DataFrame(
        {
            "sku": ["S1", "S2", "S3", "S4", "S5", "S6"],
            "family": ["Bars", "Bars", "Drinks", "Drinks", "Snacks", "Snacks"],
            "abc_class": ["A", "A", "A", "B", "C", None],
            "xyz_class": ["X", "Y", "Z", "X", "Z", None],
        }
    )
    overrides = {"S1": 0.995, "Bars": "96%", "class:AZ": 0.94, "abc:B": 97, "family:Nope": 0.5}
    out = service_targets(items, overrides).set_index("sku")
    assert out.loc["S1", ["service_target", "target_source"]].tolist() == [0.995, "sku"]
    assert out.loc["S2", ["service_target", "target_source"]].tolist() == [0.96, "family"]
    assert out.loc["S3", ["service_target", "target_source"]].tolist() == [0.94, "class"]
    assert out.loc["S4", ["service_target", "target_source"]].tolist() == [pytest.approx(0.97), "abc"]
    assert out.loc["S5", ["service_target", "target_source"]].tolist() == [DEFAULT_SERVICE_TARGETS["CZ"], "default"]
    assert out.loc["S6", ["service_target", "target_source"]].tolist() == [0.95, "fallback"]
    with pytest.raises(SafetyStockInputError, match="'Bars'.*write it as 0.97"):
        service_targets(items, {"Bars": "high"})
    with pytest.raises(SafetyStockInputError, match="between 0 and 100"):
        service_targets(items, {"Bars": 0})


def test_default_targets_cover_all_nine_classes_and_fall_with_variability():
    target = DEFAULT_SERVICE_TARGETS
    assert set(target) == {a + x for a in "ABC" for x in "XYZ"}
    for abc in "ABC":
        assert target[abc + "X"] >= target[abc + "Y"] >= target[abc + "Z"]
    for xyz in "XYZ":
        assert target["A" + xyz] > target["B" + xyz] > target["C" + xyz]


def test_overrides_from_the_decision_log():
    decisions = pd.DataFrame(
        {
            "cycle": ["2024-05-06", "2024-06-03", "2024-06-03", "2024-06-03", "2024-07-01"],
            "kind": ["service_target", "service_target", "service_target", "freeze_window", "service_target"],
            "subject": ["AX", "AX", "Bars", "AX", "AX"],
            "value": ["0.97", "99%", "0.9", "4", "0.5"],
            "approved": ["yes", "yes", "no", "yes", "yes"],
            "decided_at": [
                "2024-05-06 10:00",
                "2024-06-03 10:00",
                "2024-06-03 11:00",
                "2024-06-03 12:00",
                "2024-07-01 10:00",
            ],
        }
    )
    assert service_target_overrides(decisions, cycle="2024-06-03") == {"AX": pytest.approx(0.99)}
    assert service_target_overrides(decisions.iloc[:2]) == {"AX": pytest.approx(0.99)}


# --------------------------------------------------------------------------- curves


def _portfolio(n: int = 120, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "sku": [f"S{i}" for i in range(n)],
            "family": rng.choice(["Bars", "Drinks", "Snacks"], n),
            "mean_weekly_demand": rng.gamma(1.5, 40, n),
            "lead_time_mean_weeks": rng.uniform(1, 6, n),
            "lead_time_sd_weeks": rng.uniform(0, 1, n),
            "unit_cost": rng.uniform(1, 20, n),
            "review_period_weeks": 1.0,
            "abc_xyz": rng.choice(list(DEFAULT_SERVICE_TARGETS), n),
        }
    )
    frame["unit_price"] = frame["unit_cost"] * rng.uniform(1.1, 2.5, n)
    frame["sd_weekly_demand"] = frame["mean_weekly_demand"] * rng.uniform(0.2, 1.5, n)
    return service_targets(frame)


@pytest.mark.parametrize("kind", ["cycle", "fill_rate"])
def test_curve_per_family_and_total(kind):
    frame = _portfolio()
    curve = service_inventory_curve(frame, service_type=kind)
    assert {"family", "service_level", "safety_stock_value", "is_current", "is_proposed"} <= set(curve.columns)
    assert set(curve["family"]) == {"Bars", "Drinks", "Snacks", TOTAL_FAMILY}
    grid = curve[~curve["is_current"]]
    for family, rows in grid.groupby("family"):
        assert list(rows["service_level"]) == list(SERVICE_LEVEL_GRID)
        assert rows["safety_stock_value"].is_monotonic_increasing
        assert rows["is_least_cost"].sum() == 1 and rows["is_proposed"].sum() <= 1
        least = rows.loc[rows["is_least_cost"]].iloc[0]
        assert least["total_cost_per_year"] == rows["total_cost_per_year"].min()
        assert rows["is_proposed"].sum() == 0 or bool(least["is_proposed"])
    totals = grid[grid["family"] == TOTAL_FAMILY].set_index("service_level")["safety_stock_value"]
    parts = grid[grid["family"] != TOTAL_FAMILY].groupby("service_level")["safety_stock_value"].sum()
    pd.testing.assert_series_equal(totals, parts, check_names=False)
    # the current point: one row per family, valued at each item's own target
    current = curve[curve["is_current"]].set_index("family")
    assert len(current) == 4 and not current["is_proposed"].any() and (current["annual_saving"] == 0).all()
    saving = grid.set_index("family")["annual_saving"] + grid.set_index("family")["total_cost_per_year"]
    np.testing.assert_allclose(saving, current.loc[saving.index, "total_cost_per_year"])
    policies = safety_stock_policies(frame, service_type=kind)
    by_family = policies.groupby("family")["safety_stock_value"].sum()
    assert current.loc["Bars", "safety_stock_value"] == pytest.approx(by_family["Bars"])
    assert current.loc[TOTAL_FAMILY, "safety_stock_value"] == pytest.approx(by_family.sum())
    weights = policies["mean_weekly_demand"]
    assert current.loc[TOTAL_FAMILY, "service_level"] == pytest.approx(
        (weights * policies["service_target"]).sum() / weights.sum()
    )


def test_curve_proposal_moves_up_when_shortages_cost_more():
    frame = _portfolio()
    cheap = service_inventory_curve(frame, service_type="fill_rate", goodwill_factor=0.05)
    dear = service_inventory_curve(frame, service_type="fill_rate", goodwill_factor=20.0)
    level = lambda c: c.loc[c["is_least_cost"] & (c["family"] == TOTAL_FAMILY), "service_level"].item()  # noqa: E731
    assert level(cheap) < level(dear)
    # the grid is fine near the top: the optimum need not be a round number
    assert set(SERVICE_LEVEL_GRID) >= {0.5, 0.95, 0.951, 0.999} and len(SERVICE_LEVEL_GRID) == 95


def test_curve_costs_hand_computed_from_margin_and_holding_rate():
    # One item, cycle service, weekly order-up-to (R = 1, L = 0): sigma = 20, one review a week.
    # Price 10, cost 6: shortage cost = (10 - 6) x goodwill 1 = 4 per unit; holding 25 % x 6 = 1.5/unit/year.
    # 50 %: k = 0, SS = 0; short per week = 20 G(0) = 20 x 0.39894 = 7.979 -> 414.9 units/year x 4 = 1,659.6.
    # 90 %: k = 1.2816, SS = 25.63 units (value 153.8, holding 38.45); G(1.2816) = phi - k (1 - Phi)
    #       = 0.17550 - 1.2816 x 0.10000 = 0.04734; short = 20 x 0.04734 = 0.9469/week -> 49.24/year
    #       x 4 = 196.9; total 235.4.
    frame = pd.DataFrame(
        {
            "sku": ["A"],
            "family": ["F"],
            "mean_weekly_demand": [100.0],
            "sd_weekly_demand": [20.0],
            "lead_time_mean_weeks": [0.0],
            "lead_time_sd_weeks": [0.0],
            "review_period_weeks": [1.0],
            "unit_cost": [6.0],
            "unit_price": [10.0],
            "service_target": [0.9],
        }
    )
    curve = service_inventory_curve(frame, service_type="cycle", grid=(0.5, 0.9), method="normal")
    f = curve[(curve.family == "F") & ~curve.is_current].set_index("service_level")
    assert f.loc[0.5, "shortage_cost_per_year"] == pytest.approx(1659.6, abs=0.1)
    assert f.loc[0.5, "holding_cost_per_year"] == 0.0
    assert f.loc[0.9, "safety_stock_value"] == pytest.approx(153.8, abs=0.1)
    assert f.loc[0.9, "holding_cost_per_year"] == pytest.approx(38.45, abs=0.02)
    assert f.loc[0.9, "shortage_cost_per_year"] == pytest.approx(196.9, abs=0.1)
    assert bool(f.loc[0.9, "is_least_cost"])
    # today's target is 90 % already: the least-cost point saves nothing, so nothing is proposed
    assert f.loc[0.9, "annual_saving"] == pytest.approx(0.0, abs=1e-9) and not f["is_proposed"].any()
    # goodwill 2 doubles the shortage cost
    dear = service_inventory_curve(frame, service_type="cycle", grid=(0.5, 0.9), method="normal", goodwill_factor=2.0)
    assert dear.loc[dear.service_level.eq(0.5) & ~dear.is_current, "shortage_cost_per_year"].iloc[0] == pytest.approx(
        2 * 1659.6, abs=0.2
    )


def test_proposal_only_when_the_saving_is_material():
    # Today at 50 %: total 1,659.6/year; the 90 % point costs 235.4, saving 1,424.2 (86 %): proposed.
    frame = pd.DataFrame(
        {
            "sku": ["A"],
            "family": ["F"],
            "mean_weekly_demand": [100.0],
            "sd_weekly_demand": [20.0],
            "lead_time_mean_weeks": [0.0],
            "lead_time_sd_weeks": [0.0],
            "review_period_weeks": [1.0],
            "unit_cost": [6.0],
            "unit_price": [10.0],
            "service_target": [0.5],
        }
    )
    kw = dict(service_type="cycle", grid=(0.5, 0.9), method="normal", min_cycle_service=None)
    curve = service_inventory_curve(frame, **kw)
    best = curve[(curve.family == "F") & curve.is_least_cost].iloc[0]
    assert best.service_level == 0.9 and bool(best.is_proposed)
    assert best.annual_saving == pytest.approx(1424.2, abs=0.1)
    # a threshold above the saving (absolute, or as a share of today's cost) withholds the proposal
    assert not service_inventory_curve(frame, **kw, min_annual_saving=1500.0).is_proposed.any()
    assert not service_inventory_curve(frame, **kw, min_saving_share=0.9).is_proposed.any()
    with pytest.raises(SafetyStockInputError, match="unit_price"):
        service_inventory_curve(frame.drop(columns="unit_price"), **kw)


# --------------------------------------------------------------------------- properties

_positive = st.floats(min_value=0.5, max_value=500, allow_nan=False)
_sd = st.floats(min_value=0.1, max_value=300, allow_nan=False)
_lead = st.floats(min_value=0.2, max_value=12, allow_nan=False)
_lead_sd = st.floats(min_value=0.0, max_value=4, allow_nan=False)
_level = st.floats(min_value=0.5, max_value=0.995, allow_nan=False)
_kind = st.sampled_from(["cycle", "fill_rate"])
_method = st.sampled_from(["normal", "gamma", "auto"])


@settings(max_examples=80, deadline=None)
@given(_positive, _sd, _lead, _lead_sd, _level, st.floats(0.001, 0.1), _kind, _method, _positive)
def test_safety_stock_grows_with_service_level(d, sd, lead, lead_sd, level, step, kind, method, q):
    low = safety_stock(d, sd, lead, lead_sd, level, kind, order_qty=q, method=method)
    high = safety_stock(d, sd, lead, lead_sd, min(level + step, 0.999), kind, order_qty=q, method=method)
    assert high.k >= low.k - 1e-9
    assert high.safety_stock >= low.safety_stock - 1e-6 * max(1.0, low.safety_stock)


@settings(max_examples=80, deadline=None)
@given(_positive, _sd, _lead, _lead_sd, _level, st.floats(1.01, 3.0), _kind, _positive)
def test_safety_stock_grows_with_demand_and_lead_time_variability(d, sd, lead, lead_sd, level, factor, kind, q):
    base = safety_stock(d, sd, lead, lead_sd, level, kind, order_qty=q, method="normal")
    more_demand_sd = safety_stock(d, sd * factor, lead, lead_sd, level, kind, order_qty=q, method="normal")
    more_lead_sd = safety_stock(d, sd, lead, lead_sd * factor + 0.01, level, kind, order_qty=q, method="normal")
    tol = 1e-6 * max(1.0, base.safety_stock)
    assert more_demand_sd.safety_stock >= base.safety_stock - tol
    assert more_lead_sd.safety_stock >= base.safety_stock - tol


@settings(max_examples=80, deadline=None)
@given(_positive, _sd, _lead, _lead_sd, _level, _kind, _method, _positive)
def test_reorder_point_covers_mean_lead_time_demand(d, sd, lead, lead_sd, level, kind, method, q):
    r = safety_stock(d, sd, lead, lead_sd, level, kind, order_qty=q, method=method)
    assert r.reorder_point >= d * lead - 1e-9 * d * lead
    assert r.safety_stock >= 0


@settings(max_examples=80, deadline=None)
@given(
    st.floats(0.01, 50), st.floats(0.1, 200), _lead, _lead_sd, st.floats(0.05, 0.999), _kind, _positive, st.booleans()
)
def test_gamma_never_negative_and_meets_the_target(d, sd, lead, lead_sd, level, kind, q, exact):
    r = safety_stock(d, sd, lead, lead_sd, level, kind, order_qty=q, method="gamma", exact_loss=exact)
    assert r.method == "gamma"
    assert r.safety_stock >= 0 and r.reorder_point >= 0 and math.isfinite(r.k)
    achieved = r.expected_cycle_service if kind == "cycle" else r.expected_fill_rate
    assert achieved >= level - 1e-6


# --------------------------------------------------------------------------- simulation check

TARGETS = (0.90, 0.93, 0.95, 0.97, 0.98, 0.99)


def _synthetic_policies() -> pd.DataFrame:
    """Synthetic SKUs, normal i.i.d. demand (100/week, sd 40), lead time 3 weeks, fixed or sd 0.75.

    Q is chosen so that k stays >= 0 for every target (no floor): Q / sigma_DL <= 3.99 at 90 %.
    """
    rows = []
    for target in TARGETS:
        for lead_sd, q in ((0.0, 250.0), (0.75, 400.0)):
            rows.append(
                {
                    "sku": f"T{target}-L{lead_sd}",
                    "mean_weekly_demand": 100.0,
                    "sd_weekly_demand": 40.0,
                    "lead_time_mean_weeks": 3.0,
                    "lead_time_sd_weeks": lead_sd,
                    "review_period_weeks": 0.0,
                    "service_target": target,
                    "order_qty_units": q,
                }
            )
    frame = pd.DataFrame(rows)
    policies = pd.concat(
        [
            safety_stock_policies(frame, service_type=kind, method="normal", min_cycle_service=None)
            for kind in ("cycle", "fill_rate")
        ],
        ignore_index=True,
    )
    policies["sku"] = policies["sku"] + "-" + policies["service_type"]
    return policies


def _small_order_policies() -> pd.DataFrame:
    """Q = 40 against sigma_DL = 56.6 (orders every 0.4 weeks): the textbook G(k) over-counts shortage."""
    frame = pd.DataFrame(
        {
            "sku": ["Q-small"],
            "mean_weekly_demand": [100.0],
            "sd_weekly_demand": [40.0],
            "lead_time_mean_weeks": [2.0],
            "lead_time_sd_weeks": [0.0],
            "service_target": [0.95],
            "order_qty_units": [40.0],
        }
    )
    exact = safety_stock_policies(
        frame, service_type="fill_rate", exact_loss=True, method="normal", min_cycle_service=None
    )
    textbook = safety_stock_policies(frame, service_type="fill_rate", method="normal", min_cycle_service=None)
    return pd.concat([exact.assign(sku="Q-small-exact"), textbook.assign(sku="Q-small-textbook")], ignore_index=True)


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.DataFrame, pd.DataFrame]:
    policies = pd.concat([_synthetic_policies(), _small_order_policies()], ignore_index=True)
    sim = simulate_service(policies, weeks=500, paths=40, warmup_weeks=20, seed=11)
    return policies, sim.set_index("sku")


def test_simulated_service_is_within_one_and_a_half_points_of_target(simulated):
    # Continuous review, normal i.i.d. demand, backorders: what the formulas assume. With lead-time
    # variability the true lead-time demand is a normal mixture, ~0.5 pp below the normal formula.
    policies, sim = simulated
    synthetic = sim[sim.index.str.startswith("T")]
    assert len(synthetic) == 2 * 2 * len(TARGETS)
    assert (policies["k"] >= 0).all()
    assert (synthetic["sim_cycles"] > 3000).all()
    assert synthetic["sim_gap_pp"].abs().max() <= 1.5, synthetic["sim_gap_pp"].sort_values().to_string()
    fill = synthetic[synthetic["service_type"] == "fill_rate"]
    assert ((fill["sim_fill_rate"] - fill["service_target"]).abs() <= 0.015).all()
    cycle = synthetic[synthetic["service_type"] == "cycle"]
    assert ((cycle["sim_cycle_service"] - cycle["service_target"]).abs() <= 0.015).all()


def test_simulation_checks_small_orders_with_the_exact_loss(simulated):
    _, sim = simulated
    assert abs(sim.loc["Q-small-exact", "sim_fill_rate"] - 0.95) <= 0.015
    # the textbook G(k) counts backorders twice when Q is small: it over-protects
    assert sim.loc["Q-small-textbook", "sim_fill_rate"] > sim.loc["Q-small-exact", "sim_fill_rate"] + 0.01


def test_simulation_is_seeded():
    policies = _small_order_policies()
    first = simulate_service(policies, weeks=30, paths=4, warmup_weeks=2, seed=5)
    pd.testing.assert_frame_equal(first, simulate_service(policies, weeks=30, paths=4, warmup_weeks=2, seed=5))
    assert not first.equals(simulate_service(policies, weeks=30, paths=4, warmup_weeks=2, seed=6))


def test_bootstrap_and_periodic_review_run_on_history():
    rng = np.random.default_rng(2)
    weeks = _weeks(104)
    history = pd.DataFrame(
        {
            "sku": np.repeat(["A", "B"], 104),
            "week_start": weeks * 2,
            "units": np.concatenate([rng.normal(100, 30, 104).clip(0), rng.poisson(2, 104) * 3.0]),
        }
    )
    var = demand_variability(history, default_lead_time_weeks=2.0, default_lead_time_sd_weeks=0.5)
    policies = safety_stock_policies(var.assign(service_target=0.95, order_qty_units=[300.0, 20.0]))
    sim = simulate_service(
        policies,
        weeks=300,
        paths=10,
        demand_model="bootstrap",
        demand_history=history,
        lead_time_model="lognormal",
        seed=1,
    )
    assert sim["sim_cycles"].gt(50).all()
    # weekly review with protection L + R is conservative for smooth demand
    assert sim.loc[0, "sim_cycle_service"] >= 0.95 - 0.015
    assert sim["sim_avg_on_hand_units"].gt(0).all()
    with pytest.raises(SafetyStockInputError, match="needs demand_history"):
        simulate_service(policies, demand_model="bootstrap")


def test_phase_out_items_are_run_down_without_safety_stock():
    frame = pd.DataFrame(
        {
            "sku": ["KEEP", "GOING", "GOING-DECIDED"],
            "family": "F",
            "unit_cost": 2.0,
            "unit_price": 3.0,
            "mean_weekly_demand": 100.0,
            "sd_weekly_demand": 40.0,
            "lead_time_mean_weeks": 2.0,
            "lead_time_sd_weeks": 0.5,
            "order_qty_units": 100.0,
            "abc_xyz": "AX",
            "lifecycle": ["active", "phase_out", "phase_out"],
        }
    )
    frame = service_targets(frame, {"sku:GOING-DECIDED": 0.95})
    policies = safety_stock_policies(frame, service_type="fill_rate").set_index("sku")
    going = policies.loc["GOING"]
    assert going["policy"] == "run_out" and going["safety_stock_units"] == 0 and going["k"] == 0
    assert going["reorder_point_units"] == pytest.approx(200.0)  # the lead-time demand only
    assert going["expected_fill_rate"] < going["service_target"]  # what the run-out still gives
    # a target decided for the SKU itself wins over the run-out rule
    assert policies.loc["GOING-DECIDED", "policy"] == "service_target"
    assert policies.loc["GOING-DECIDED", "safety_stock_units"] > 0
    assert policies.loc["KEEP", "policy"] == "service_target" and policies.loc["KEEP", "safety_stock_units"] > 0
    # the curve values the run-out item at zero at every service level
    curve = service_inventory_curve(frame, service_type="fill_rate")
    without = service_inventory_curve(frame[frame.sku != "GOING"], service_type="fill_rate")
    np.testing.assert_allclose(curve.safety_stock_value, without.safety_stock_value)


def test_receipts_in_sequence_match_the_lead_time_variance_formula():
    # sigma_L / L = 20 % with an order every week: independent lead times let later orders
    # overtake earlier ones, which shortens the effective lead time and over-delivers; receipts
    # in the order placed (one supplier, first in first out) land on the target.
    frame = pd.DataFrame(
        {
            "sku": ["S"],
            "mean_weekly_demand": [100.0],
            "sd_weekly_demand": [20.0],
            "lead_time_mean_weeks": [4.5],
            "lead_time_sd_weeks": [0.9],
            "service_target": [0.96],
            "order_qty_units": [100.0],
        }
    )
    policies = safety_stock_policies(frame, service_type="fill_rate", exact_loss=True, method="normal")
    fifo = simulate_service(policies, weeks=1500, paths=16, seed=3, orders_cross=False)
    crossing = simulate_service(policies, weeks=1500, paths=16, seed=3, orders_cross=True)
    assert abs(fifo.loc[0, "sim_gap_pp"]) <= 1.5, fifo.loc[0, "sim_gap_pp"]
    assert crossing.loc[0, "sim_fill_rate"] > fifo.loc[0, "sim_fill_rate"] + 0.01


def test_order_up_to_policy_simulates_on_target_even_with_a_sub_day_lead_time():
    # The pipeline's policy: weekly review (R = 1), order up to S = mu (L + R) + SS. A made item's
    # lead time of 0.1 week (17 h) is shorter than the simulation's day step: its receipt lands
    # inside the step, not at the next boundary (rounding up would add 0.04 week of demand unprotected).
    rows = []
    for target in (0.90, 0.95, 0.98):
        for lead, lead_sd in ((0.1, 0.03), (2.0, 0.4)):
            rows.append(
                {
                    "sku": f"T{target}-L{lead}",
                    "mean_weekly_demand": 100.0,
                    "sd_weekly_demand": 25.0,
                    "lead_time_mean_weeks": lead,
                    "lead_time_sd_weeks": lead_sd,
                    "review_period_weeks": 1.0,
                    "service_target": target,
                }
            )
    frame = pd.DataFrame(rows)
    policies = pd.concat(
        [
            safety_stock_policies(
                frame, service_type=kind, method="normal", exact_loss=True, min_cycle_service=None
            ).assign(sku=lambda f, k=kind: f.sku + "-" + k)
            for kind in ("cycle", "fill_rate")
        ],
        ignore_index=True,
    )
    assert (policies.order_qty_source == "review").all() and (policies.order_qty_units == 100.0).all()
    sim = simulate_service(policies, weeks=1500, paths=12, warmup_weeks=20, seed=4, orders_cross=False)
    assert (sim.sim_cycles > 15000).all()  # one receipt per review
    assert sim.sim_gap_pp.abs().max() <= 1.0, sim.set_index("sku").sim_gap_pp.sort_values().to_string()


def test_unprotected_items_names_active_a_and_b_items_with_variable_demand_and_no_stock():
    frame = pd.DataFrame(
        {
            "sku": ["A-OK", "B-BARE", "A-PHASE", "C-BARE", "A-FLAT", "A-NEW", "A-NODEMAND", "B-CVONLY"],
            "abc_xyz": ["AX", "BY", "AX", "CX", "AX", "AX", "AZ", "BX"],
            "lifecycle": ["active", "active", "phase_out", "active", "active", "new", "active", "Active "],
            "mean_weekly_demand": [10.0, 5.0, 10.0, 3.0, 10.0, 4.0, 0.0, 8.0],
            "sd_weekly_demand": [2.0, 1.0, 2.0, 1.0, 0.0, 1.0, 0.0, 0.0],
            "cv": [0.2, 0.2, 0.2, 0.3, 0.0, 0.25, np.nan, 0.1],
            "safety_stock_units": [3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        }
    )
    # B-BARE varies and holds nothing; B-CVONLY's demand varies (cv) though its error sd is 0.
    # Phase-out (run down), C, flat demand, new and no-demand items are outside the rule.
    assert unprotected_items(frame).sku.tolist() == ["B-BARE", "B-CVONLY"]
    assert unprotected_items(frame[frame.sku != "B-BARE"].assign(safety_stock_units=1.0)).empty
    with pytest.raises(SafetyStockInputError, match="lifecycle"):
        unprotected_items(frame.drop(columns="lifecycle"))


def test_auto_demand_model_simulates_gamma_items_with_gamma_demand():
    # A volatile made item (CV 0.9, lead time 0.05 week): the formula fits a gamma to demand over
    # L + R. Simulated with gamma steps (shapes add over time, so demand over L + R is that gamma)
    # it lands on the target; simulated as Brownian (normal) demand it over-delivers, the normal
    # tail being lighter than the gamma the formula protected against.
    frame = pd.DataFrame(
        {
            "sku": ["G"],
            "mean_weekly_demand": [50.0],
            "sd_weekly_demand": [45.0],
            "lead_time_mean_weeks": [0.05],
            "lead_time_sd_weeks": [0.01],
            "review_period_weeks": [1.0],
            "service_target": [0.95],
        }
    )
    policy = safety_stock_policies(frame, service_type="fill_rate", exact_loss=True, min_cycle_service=None)
    assert policy.method.item() == "gamma"
    auto = simulate_service(policy, weeks=3000, paths=12, seed=2, orders_cross=False, demand_model="auto")
    normal = simulate_service(policy, weeks=3000, paths=12, seed=2, orders_cross=False, demand_model="normal")
    assert abs(auto.sim_gap_pp.item()) <= 1.0, auto.sim_gap_pp.item()
    assert normal.sim_gap_pp.item() > auto.sim_gap_pp.item() + 1.0
