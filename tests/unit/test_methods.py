"""Method selection and calibrated quantiles (analytics.methods): the candidates on hand-made
series whose answer is obvious, the selection rule, the coverage arithmetic, the calibration and
the cycle forecast that uses them (the SKU forecast is the sum of its locations)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from sop_pipeline.analytics import backtest as BT
from sop_pipeline.analytics import forecasting as F
from sop_pipeline.analytics import methods as M
from tests.unit.test_forecasting import AS_OF, FAST, make_history

WEEKS = 156


def seasonal(weeks: int = WEEKS) -> np.ndarray:
    k = np.arange(weeks)
    return np.round(20 + 10 * np.sin(2 * np.pi * (k % 52) / 52))


def sparse(weeks: int = WEEKS, seed: int = 3) -> np.ndarray:
    """An item selling less and less: 4 units in a week with a chance falling from 50% to 10%."""
    rng = np.random.default_rng(seed)
    return np.where(rng.random(weeks) < np.linspace(0.5, 0.1, weeks), 4.0, 0.0)


def rolling_rows(series: dict[str, np.ndarray], origins: int = 26, horizon: int = 13) -> pd.DataFrame:
    """Backtest-like rows from the candidates at rolling origins; 'lightgbm' is played by the mean
    of the last 52 weeks (no season, slow to follow a change), so the answer is known."""
    parts = []
    for name, y in series.items():
        T = len(y)
        for o in range(T - origins - horizon, T - horizon):
            hist = y[None, : o + 1]
            hs = np.arange(1, horizon + 1)
            lgb = np.full((1, horizon), hist[0, -52:].mean())
            cand = M.candidates(hist, hs, lgb)
            parts.append(
                pd.DataFrame(
                    {
                        "sku": name,
                        "location": "S01",
                        "origin": pd.Timestamp("2026-01-04") + pd.Timedelta(weeks=o),
                        "lag": hs,
                        "actual": y[o + hs],
                        "lightgbm": lgb[0],
                        **{m: cand[m][0] for m in M.STAT_CANDIDATES},
                        "scale": M.series_scale(hist)[0],
                        "intermittency": M.intermittency_class(hist)[0],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def test_candidates_on_obvious_series():
    y = seasonal()
    f = M.candidates(y[None, :-13], np.arange(1, 14), np.zeros((1, 13)))
    assert np.allclose(f["seasonal_naive"][0], y[-13:])  # a pure season repeats exactly
    flat = np.full((1, 120), 7.0)
    f = M.candidates(flat, np.arange(1, 14), np.full((1, 13), 7.0))
    for m in M.STAT_CANDIDATES:
        assert np.allclose(f[m], 7.0), m
    f = M.candidates(flat, np.arange(1, 14), np.full((1, 13), 1.0))
    assert np.allclose(f["combination"], (1 + 7 + 7) / 3)  # the mean of its members
    # TSB: demand every 4th week of 8 units -> probability 1/4 x size 8 = 2 per week
    y = np.tile([8.0, 0, 0, 0], 30)[None, :]
    assert M.tsb(y, np.arange(1, 4))[0, 0] == pytest.approx(2.0, rel=0.1)
    # NaN (before the first sale, censored) is skipped, not read as zero demand
    y = np.concatenate([np.full(20, np.nan), np.full(60, 5.0)])[None, :]
    assert np.allclose(M.exp_smoothing(y, np.arange(1, 3)), 5.0)


def test_selection_picks_the_lowest_error_candidate():
    rows = rolling_rows({"SEASON": seasonal(), "SPARSE": sparse()})
    sel = M.select(rows, margin=0.0).set_index("sku")  # the plain minimum (the margin: next test)
    assert sel.loc["SEASON", "method"] in ("seasonal_naive", "exp_smoothing")
    assert sel.loc["SEASON", "wape"] == pytest.approx(0.0)  # seasonal naive is exact
    assert sel.loc["SPARSE", "intermittency"] == "intermittent"
    # the smoothing methods follow the falling rate; the stale level and last year's weeks do not
    assert sel.loc["SPARSE", "method"] in ("tsb", "exp_smoothing")
    assert M.selection_breaks(sel.reset_index(), margin=0.0).empty
    assert M.selection_breaks(M.select(rows)).empty
    # the chosen WAPE is the candidate's own
    for sku, r in sel.iterrows():
        assert r.wape == pytest.approx(r[f"wape_{r.method}"])


def test_selection_margin_keeps_the_global_model_on_a_small_edge():
    rows = pd.DataFrame(
        {
            "sku": "A",
            "location": "S01",
            "origin": pd.Timestamp("2026-01-04"),
            "lag": [1, 2],
            "actual": [10.0, 10.0],
            "lightgbm": [12.0, 12.0],  # error 4
            "seasonal_naive": [11.0, 8.5],  # error 2.5: 37.5% lower -> switches
            "exp_smoothing": [13.0, 13.0],
            "tsb": [14.0, 14.0],
            "combination": [13.0, 13.0],
            "scale": 10.0,
            "intermittency": "smooth",
        }
    )
    assert M.select(rows).method.item() == "seasonal_naive"
    rows["lightgbm"] = [11.6, 11.6]  # error 3.2: naive (2.5) only 22% lower -> lightgbm stays
    sel = M.select(rows)
    assert sel.method.item() == "lightgbm"
    assert M.select(rows, margin=0.0).method.item() == "seasonal_naive"
    # a hand-edited pick that breaks the rule is caught by the blocking check's function
    bad = sel.assign(method="tsb", wape=sel.wape_tsb)
    assert len(M.selection_breaks(bad)) == 1


def test_coverage_is_computed_right():
    actual = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], dtype=float)
    c = M.coverage(actual, np.full(10, 1.0), np.full(10, 8.0))
    assert c == {"share_below_p10": 0.1, "share_above_p90": 0.1, "band_coverage": pytest.approx(0.8)}
    # ties with the bounds are covered
    c = M.coverage(np.zeros(4), np.zeros(4), np.zeros(4))
    assert c["band_coverage"] == 1.0


def test_calibrated_band_covers_80_percent_forward():
    rng = np.random.default_rng(5)
    n = 4000
    origin = pd.Timestamp("2026-01-04") + pd.to_timedelta(rng.integers(0, 26, n) * 7, unit="D")
    f = np.full(n, 50.0)
    rows = pd.DataFrame(
        {
            "origin": origin,
            "lag": rng.integers(1, 14, n),
            "actual": np.clip(f + rng.normal(0, 10, n), 0, None),
            "scale": 50.0,
            "intermittency": "smooth",
        }
    )
    cal = M.calibrate(rows, f)
    t = cal.table
    assert set(t.horizon_bucket) == {"1-4", "5-8", "9-13"}
    assert (t.q_low < 0).all() and (t.q_high > 0).all()
    assert t.q_low.mean() * 50 == pytest.approx(-12.8, abs=1.5)  # N(0, 10): 10% quantile -12.8
    assert ((t.band_coverage > 0.72) & (t.band_coverage < 0.88)).all()
    assert not M.calibration_breaks(t) and not M.calibration_on_target(t)
    p10, p90 = M.band(f, np.full(n, 50.0), *cal.quantiles(M.horizon_bucket(rows.lag.to_numpy()), rows.intermittency))
    assert (p10 <= f).all() and (f <= p90).all() and (p10 >= 0).all()


@pytest.fixture(scope="module")
def with_obvious_series():
    """make_history plus a pure-seasonal SKU and a sparse SKU, each at one store."""
    history, promos = make_history(n_skus=6, seed=11)
    last = F.last_complete_week(AS_OF)
    mondays = [last - timedelta(weeks=WEEKS - 1 - k) for k in range(WEEKS)]
    extra = []
    for sku, y in (("SEASON", seasonal()), ("SPARSE", sparse())):
        for k, u in enumerate(y):
            extra.append(
                {
                    "sku": sku,
                    "location": "S01",
                    "channel": "store",
                    "family": "Snacks",
                    "category": "Food",
                    "lifecycle": "active",
                    "week_start": mondays[k],
                    "units": float(u),
                    "revenue": float(u) * 2.0,
                    "list_price": 2.0,
                    "is_promo": False,
                    "is_stockout": False,
                }
            )
    history = pd.concat([history.drop(columns="units_clean"), pd.DataFrame(extra)], ignore_index=True)
    history = history[pd.to_datetime(history.week_start) <= pd.Timestamp(last)]
    cfg = BT.BacktestConfig(origins=12, retrain_every=4, forecast=FAST, sensing=False)
    return history, promos, BT.backtest(history, AS_OF, promos, config=cfg)


def test_backtest_selects_per_series_and_calibrates(with_obvious_series):
    history, promos, result = with_obvious_series
    sel = result.selection.set_index(["sku", "location"])
    assert len(sel) == history.groupby(["sku", "location"]).ngroups
    assert sel.loc[("SEASON", "S01"), "method"] in ("seasonal_naive", "exp_smoothing")
    assert sel.loc[("SPARSE", "S01"), "intermittency"] == "intermittent"
    assert M.selection_breaks(result.selection).empty
    assert not M.calibration_breaks(result.calibration.table)
    assert set(result.selection_wape) == {"selected", *M.CANDIDATES}
    # the series rows score the same weeks as the SKU-level backtest's lightgbm rows
    s = result.series.groupby(["sku", "origin", "lag"], observed=True)[["lightgbm", "actual"]].sum()
    e = result.errors[result.errors.method == "lightgbm"].set_index(["sku", "origin", "lag"])
    m = s.join(e[["forecast_units", "actual_units"]], how="inner")
    missing = e.loc[~e.index.isin(m.index)]
    assert (missing.forecast_units == 0).all()  # only series the guards set inactive are not candidates
    assert len(m) >= 0.9 * len(e)
    assert np.allclose(m.lightgbm, m.forecast_units, rtol=1e-5) and np.allclose(m.actual, m.actual_units)


def test_cycle_forecast_uses_the_chosen_method_and_adds_up(with_obvious_series):
    history, promos, result = with_obvious_series
    clean = history.assign(units_clean=history.units)
    out = F.forecast(clean, AS_OF, promos, FAST, selection=result.selection, calibration=result.calibration)
    loc = out.location
    season = loc[(loc.sku == "SEASON") & (loc.horizon_week >= 1)].sort_values("week_start")
    chosen = result.selection.set_index("sku").loc["SEASON", "method"]
    assert (season.method == chosen).all()
    if chosen == "seasonal_naive":  # next weeks = the same weeks a year earlier
        assert np.allclose(season.units_p50, seasonal(WEEKS + 13)[WEEKS - 1 + np.arange(1, 14)])
    assert (loc.units_p10 <= loc.units_p50 + 1e-9).all() and (loc.units_p50 <= loc.units_p90 + 1e-9).all()
    assert (loc.units_p10 >= 0).all()
    assert np.allclose(loc.revenue, loc.units_p50 * loc.price)
    sku = out.sku[out.sku.horizon_week >= 1]
    assert M.rollup_breaks(sku, loc[loc.horizon_week >= 1]).empty
    # without selection and calibration the global model's numbers are unchanged
    plain = F.forecast(clean, AS_OF, promos, FAST, model=out.model).location
    lgb_rows = (loc.method == "lightgbm").to_numpy()
    assert np.allclose(plain.units_p50.to_numpy()[lgb_rows], loc.units_p50.to_numpy()[lgb_rows])
