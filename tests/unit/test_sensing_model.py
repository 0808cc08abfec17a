"""Learned demand sensing (analytics/sensing_model.py): no leakage across origins, the choice per lag,
output shape and determinism, on small hand-made backtests."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from sop_pipeline.analytics import sensing_model as M
from sop_pipeline.analytics.forecasting import last_complete_week

AS_OF = date(2026, 6, 28)  # a Sunday
CFG = M.LearnedSensingConfig(num_boost_round=40, min_train_rows=50)


def synthetic(n_origins=16, skus=8, seed=3):
    """A backtest (lightgbm + lightgbm_sensed rows) whose actuals follow the orders booked by each
    origin: half of a week's units are B2B, booked earlier the nearer the week. The statistical
    forecast is a flat 100 and does not see it; the rule is the statistical forecast."""
    rng = np.random.default_rng(seed)
    origins = [AS_OF - timedelta(weeks=k) for k in range(n_origins + 6, 6, -1)]
    rows, orders = [], []
    actual = {}
    weeks = sorted({o + timedelta(days=1 + 7 * (lag - 1)) for o in origins for lag in range(1, 7)})
    for s in range(skus):
        sku = f"S{s}"
        for w in weeks:
            a = float(rng.uniform(40, 160))
            actual[(sku, w)] = a
            b2b = a / 2
            for d, share in ((3, 0.25), (10, 0.25), (24, 0.25), (40, 0.25)):  # days ahead of the week
                orders.append(
                    {
                        "sku": sku,
                        "order_date": pd.Timestamp(w - timedelta(days=d)),
                        "requested_week_start": pd.Timestamp(w),
                        "qty": b2b * share,
                        "status": "open",
                    }
                )
    for o in origins:
        for s in range(skus):
            sku = f"S{s}"
            for lag in range(1, 7):
                w = o + timedelta(days=1 + 7 * (lag - 1))
                for method in ("lightgbm", "lightgbm_sensed"):
                    rows.append(
                        {
                            "origin": pd.Timestamp(o),
                            "sku": sku,
                            "family": "F",
                            "week_start": pd.Timestamp(w),
                            "lag": lag,
                            "method": method,
                            "forecast_units": 100.0,
                            "actual_units": actual[(sku, w)],
                        }
                    )
    return pd.DataFrame(rows), pd.DataFrame(orders)


def cycle(skus=8):
    return pd.DataFrame(
        [
            {
                "origin": pd.Timestamp(AS_OF),
                "sku": f"S{s}",
                "family": "F",
                "week_start": pd.Timestamp(AS_OF + timedelta(days=1 + 7 * (lag - 1))),
                "lag": lag,
                "baseline_units": 100.0,
                "rule_units": 100.0,
            }
            for s in range(skus)
            for lag in range(1, 7)
        ]
    )


# ---- no leakage ------------------------------------------------------------------------------


def test_orders_booked_after_the_origin_do_not_count():
    bt, orders = synthetic(n_origins=4, skus=2)
    rows = M.backtest_rows(bt)
    before = M.features(rows, orders, None, None, CFG)
    # the same orders, plus a large order line for every SKU-week booked one day after the last origin
    last = rows.origin.max()
    late = rows[["sku", "week_start"]].drop_duplicates().rename(columns={"week_start": "requested_week_start"})
    late = late.assign(order_date=last + pd.Timedelta(days=1), qty=1e6, status="open")
    after = M.features(rows, pd.concat([orders, late], ignore_index=True), None, None, CFG)
    pd.testing.assert_frame_equal(before, after)
    # the same lines dated on the last origin count for that origin's rows, and only for them
    on = pd.concat([orders, late.assign(order_date=last)], ignore_index=True)
    added = M.booked_by_origin(rows, on) - M.booked_by_origin(rows, orders)
    np.testing.assert_allclose(added, np.where(rows.origin == last, 1e6, 0.0))


def test_pos_after_the_origin_does_not_move_pace_or_season():
    days = pd.date_range("2025-01-01", "2026-06-28", freq="D")
    pos = pd.DataFrame({"family": "F", "sales_date": days, "units": 10.0})
    origin = date(2026, 5, 20)  # a Wednesday
    spiked = pos.assign(units=np.where(pos.sales_date > pd.Timestamp(origin), 1e6, pos.units))
    assert M.pos_pace(pos, origin)["F"] == pytest.approx(0.0)
    assert M.pos_pace(spiked, origin)["F"] == pytest.approx(0.0)
    rows = pd.DataFrame(
        {
            "origin": [pd.Timestamp(origin)],
            "sku": ["A"],
            "family": ["F"],
            "week_start": [pd.Timestamp("2026-06-01")],
            "lag": [2],
            "baseline_units": [50.0],
            "rule_units": [50.0],
        }
    )
    a = M.features(rows, None, pos, None, CFG)
    b = M.features(rows, None, spiked, None, CFG)
    pd.testing.assert_frame_equal(a, b)
    assert a.season_index.iloc[0] == pytest.approx(1.0)


def test_rolling_evaluation_never_trains_on_weeks_not_complete_at_the_origin():
    bt, orders = synthetic()
    rows = M.backtest_rows(bt)
    x = M.features(rows, orders, None, None, CFG)
    learned, _ = M.rolling_evaluation(rows, x, CFG)
    origins = sorted(rows.origin.unique())
    o = pd.Timestamp(origins[len(origins) // 2])
    known = rows.week_start <= pd.Timestamp(last_complete_week(o.date()))
    # change every actual that was not known at origin o: o's predictions must not move
    changed = rows.assign(actual_units=np.where(known, rows.actual_units, rows.actual_units * 3 + 50))
    learned2, _ = M.rolling_evaluation(changed, x, CFG)
    at = (rows.origin == o).to_numpy()
    assert np.isfinite(learned.learned_units[at]).all()
    np.testing.assert_array_equal(learned.learned_units[at], learned2.learned_units[at])
    # ... while a later origin, whose training did see them, does move
    later = (rows.origin == origins[-1]).to_numpy()
    assert not np.array_equal(learned.learned_units[later], learned2.learned_units[later])


# ---- the choice per lag ----------------------------------------------------------------------


def test_choice_per_lag_is_the_lower_error_method():
    gain = pd.DataFrame(
        {
            "lag": [1, 2, 3, 4, 5, 6],
            "wape_statistical": [0.30, 0.30, 0.30, 0.30, 0.30, 0.30],
            "wape_rule": [0.20, 0.25, 0.28, 0.30, 0.30, 0.30],
            "wape_learned": [0.15, 0.25, 0.29, np.nan, 0.10, 0.31],
            "n": [10] * 6,
            "origins": [3] * 6,
            "actual_units": [100.0] * 6,
        }
    )
    g = M.choose(gain)
    # learned strictly lower at lags 1 and 5; a tie (2), worse (3, 6) or unscored (4) keeps the rule
    assert list(g.chosen) == ["learned", "rule", "rule", "rule", "learned", "rule"]
    assert g.gain_points.iloc[0] == pytest.approx(5.0)
    assert g.gain_points.iloc[2] == pytest.approx(-1.0)
    assert np.isnan(g.gain_points.iloc[3])
    assert g.chosen_gain_vs_statistical_points.tolist() == pytest.approx([15.0, 5.0, 2.0, 0.0, 20.0, 0.0])
    assert M.choice_breaks(g) == []
    bad = g.assign(chosen=["rule", "rule", "learned", "rule", "learned", "rule"])
    problems = M.choice_breaks(bad)
    assert len(problems) == 2 and problems[0].startswith("lag 1:") and problems[1].startswith("lag 3:")


def test_apply_uses_learned_units_only_on_chosen_lags():
    rule = pd.DataFrame(
        {
            "sku": "A",
            "family": "F",
            "week_start": pd.to_datetime(["2026-06-29", "2026-07-06"]),
            "horizon_week": [1, 2],
            "baseline_units": [100.0, 100.0],
            "sensed_units": [110.0, 105.0],
            "delta_units": [10.0, 5.0],
            "delta_pct": [0.1, 0.05],
            "reason": ["r1", "r2"],
        }
    )
    gain = M.choose(
        pd.DataFrame(
            {
                "lag": [1, 2],
                "wape_statistical": [0.3, 0.3],
                "wape_rule": [0.2, 0.2],
                "wape_learned": [0.1, 0.25],
                "n": [5, 5],
                "origins": [2, 2],
                "actual_units": [1.0, 1.0],
            }
        )
    )
    learned = M.LearnedSensing(
        gain,
        {1: "learned", 2: "rule"},
        pd.DataFrame({"sku": "A", "week_start": rule.week_start, "lag": [1, 2], "learned_units": [130.0, 90.0]}),
        10,
        1,
        "",
    )
    out = M.apply(rule, learned, AS_OF)
    assert out.method.tolist() == ["learned", "rule"]
    assert out.sensed_units.tolist() == [130.0, 105.0]
    assert out.rule_units.tolist() == [110.0, 105.0]
    assert out.delta_units.tolist() == [30.0, 5.0]
    assert out.reason.iloc[0].startswith("Learned sensing") and out.reason.iloc[0].endswith("r1")
    assert out.reason.iloc[1] == "r2"
    assert M.method_breaks(out, learned.chosen) == []
    swapped = out.assign(method=["rule", "rule"])
    assert [p.split(":")[0] for p in M.method_breaks(swapped, learned.chosen)] == ["A week 2026-06-29 (lag 1)"]


# ---- shape, determinism, and that it learns ----------------------------------------------------


def test_learn_shape_determinism_and_signal():
    bt, orders = synthetic()
    a = M.learn(bt, cycle(), orders, None, None, CFG)
    b = M.learn(bt, cycle(), orders, None, None, CFG)
    assert list(a.gain.columns) == M.GAIN_COLUMNS and a.gain.lag.tolist() == [1, 2, 3, 4, 5, 6]
    pd.testing.assert_frame_equal(a.gain, b.gain)
    pd.testing.assert_frame_equal(a.sensed, b.sensed)
    assert len(a.sensed) == len(cycle()) and (a.sensed.learned_units >= 0).all()
    assert a.note == "" and a.fits >= 2
    # the booked orders carry the signal the flat statistical forecast misses: at lag 1 (3/4 of the
    # B2B units booked) the learned model beats it and the rule (= statistical) clearly
    lag1 = a.gain.set_index("lag").loc[1]
    assert lag1.wape_learned < lag1.wape_rule - 0.05 and lag1.chosen == "learned"
    assert (a.gain.n > 0).all()


def test_sampled_training_rows_are_deterministic():
    bt, orders = synthetic(n_origins=8, skus=4)
    cfg = dataclasses.replace(CFG, max_train_rows=120)
    a = M.learn(bt, cycle(4), orders, None, None, cfg)
    b = M.learn(bt, cycle(4), orders, None, None, cfg)
    pd.testing.assert_frame_equal(a.sensed, b.sensed)
    pd.testing.assert_frame_equal(a.gain, b.gain)


def test_learn_without_enough_rows_keeps_the_rule():
    bt, orders = synthetic(n_origins=1, skus=1)
    r = M.learn(bt, cycle(1), orders, None, None, CFG)
    assert r.sensed is None and r.chosen == {} and "too few" in r.note
    assert (r.gain.chosen == "rule").all()


def test_pos_pace_on_the_prepared_daily_pos_is_the_same():
    rng = np.random.default_rng(3)
    days = pd.date_range("2026-03-02", periods=120, freq="D")
    pos = pd.DataFrame(
        {
            "family": np.repeat(["Snacks", "Drinks"], len(days)),
            "sales_date": np.tile(days.strftime("%Y-%m-%d"), 2),
            "units": rng.gamma(2.0, 50.0, 2 * len(days)),
        }
    )
    prepared = M._family_daily(pos)
    for origin in pd.date_range("2026-04-01", periods=20, freq="3D"):
        pd.testing.assert_series_equal(
            M.pos_pace(pos, origin.date()), M.pos_pace(prepared, origin.date(), prepared=True)
        )
