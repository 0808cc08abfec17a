"""History outliers, censoring, cleansing and hockey-stick flags on hand-made series."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from sop_pipeline.analytics import outliers as O

MONDAY0 = date(2025, 1, 6)


def weekly(values, sku="A", location="S01", channel="store", promo=(), stockout=(), family="Snacks") -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "sku": sku,
            "location": location,
            "channel": channel,
            "family": family,
            "week_start": [MONDAY0 + timedelta(weeks=k) for k in range(n)],
            "units": np.asarray(values, dtype=float),
            "is_promo": [k in promo for k in range(n)],
            "is_stockout": [k in stockout for k in range(n)],
        }
    )


def noisy(n=60, level=100.0, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).poisson(level, n).astype(float)


def test_spike_is_flagged_with_expected_value_and_reason():
    y = noisy()
    y[30] *= 4
    flags = O.detect_history_outliers(weekly(y))
    assert flags.week_start.tolist() == [MONDAY0 + timedelta(weeks=30)]
    row = flags.iloc[0]
    assert row.value == y[30] and row.expected == pytest.approx(100, rel=0.1) and row.ratio > 3
    assert "4.0x" in row.reason or "3.9x" in row.reason or "4.1x" in row.reason
    assert "training uses" in row.reason


def test_promotion_peaks_post_promo_dips_and_stockouts_are_not_outliers():
    y = noisy(seed=1)
    y[20], y[21], y[22] = 380, 60, 70  # promo peak, then dip
    y[40] = 0  # stock-out
    flags = O.detect_history_outliers(weekly(y, promo={20}, stockout={40}))
    assert flags.empty


def test_detection_is_at_sku_level_over_stores_and_ignores_b2b():
    store1, store2 = noisy(seed=2, level=60), noisy(seed=3, level=40)
    store1[35] *= 3.5
    store2[35] *= 3.5
    b2b = np.zeros(60)
    b2b[::4] = 400  # lumpy orders are not screened
    history = pd.concat(
        [weekly(store1), weekly(store2, location="S02"), weekly(b2b, location="B2B", channel="b2b")], ignore_index=True
    )
    flags = O.detect_history_outliers(history)
    assert flags.week_start.tolist() == [MONDAY0 + timedelta(weeks=35)]
    assert flags.value.iloc[0] == store1[35] + store2[35]


def test_low_volume_noise_is_not_flagged():
    rng = np.random.default_rng(4)
    history = pd.concat([weekly(rng.poisson(1.5, 80), sku=f"C{k}") for k in range(30)], ignore_index=True)
    assert O.detect_history_outliers(history).empty


def test_the_last_weeks_of_a_phase_out_are_not_outliers():
    y = np.r_[noisy(40, level=500.0, seed=8), [400, 300, 350, 250, 130], np.zeros(15)]
    assert O.detect_history_outliers(weekly(y)).empty


def test_stockout_week_and_the_low_week_after_it_are_censored():
    y = noisy(seed=5)
    y[30], y[31], y[45], y[46] = 10, 20, 5, 95  # two stock-outs; the first runs on into week 31
    history = weekly(y, stockout={30, 45})
    censored = O.censored_weeks(history)
    assert np.flatnonzero(censored.to_numpy()).tolist() == [30, 31, 45]


def test_cleansing_scales_store_rows_and_blanks_censored_weeks():
    s1, s2 = noisy(seed=6, level=60), noisy(seed=7, level=40)
    s1[25] *= 4
    s2[25] *= 4
    history = pd.concat(
        [
            weekly(s1, stockout={10}),
            weekly(s2, location="S02"),
            weekly(np.full(60, 50.0), location="B2B", channel="b2b"),
        ],
        ignore_index=True,
    )
    before = history.copy()
    flags = O.detect_history_outliers(history)
    clean = O.cleanse_history(history, flags)
    pd.testing.assert_frame_equal(history, before)  # the result shares the history's columns, never edits them
    clean.loc[:, "units"] = -1.0
    pd.testing.assert_frame_equal(history, before)
    clean = O.cleanse_history(history, flags)
    week = clean.week_start == MONDAY0 + timedelta(weeks=25)
    stores = clean[week & (clean.channel == "store")]
    assert stores.is_outlier.all()
    assert stores.units_clean.sum() == pytest.approx(flags.expected.iloc[0])
    assert clean[week & (clean.channel == "b2b")].units_clean.iloc[0] == 50  # B2B untouched
    assert np.isnan(
        clean.loc[(clean.location == "S01") & (clean.week_start == MONDAY0 + timedelta(weeks=10)), "units_clean"]
    ).all()


def _pandas_baseline(units: pd.DataFrame, irregular: pd.DataFrame, cfg: O.OutlierConfig) -> pd.DataFrame:
    """The rolling baseline as pandas computes it (the implementation before the array one)."""
    ended = units.fillna(0).iloc[::-1].gt(0).cumsum().iloc[::-1].eq(0)
    regular = units.where(~irregular & ~ended)
    base = regular.rolling(cfg.window_weeks, center=True, min_periods=cfg.min_periods).median()
    for window in cfg.wider_windows:
        base = base.fillna(regular.rolling(window, center=True, min_periods=cfg.min_periods).median())
    return base


@pytest.mark.parametrize("seed", range(6))
def test_array_baseline_and_censoring_equal_pandas_rolling_medians(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(3, 70)), int(rng.integers(1, 25))
    units = rng.poisson(rng.uniform(0, 30), (n, m)) * rng.choice([1.0, 0.5, 1.37], (n, m))
    units[rng.random((n, m)) < 0.15] = np.nan  # no row
    units[rng.random((n, m)) < 0.1] = 0.0
    units[-int(rng.integers(0, n)) :, 0] = 0.0  # a phase-out: zero weeks after its last sale
    promo, stock = rng.random((n, m)) < 0.2, rng.random((n, m)) < 0.15
    for cfg in (O.OutlierConfig(), O.OutlierConfig(window_weeks=4, wider_windows=(6,), min_periods=2)):
        irregular = O._regular_mask(pd.DataFrame(promo), pd.DataFrame(stock), cfg)
        assert (O._irregular_array(promo, stock, cfg) == irregular.to_numpy()).all()
        expected = _pandas_baseline(pd.DataFrame(units), irregular, cfg).to_numpy()
        got = O._rolling_baseline(pd.DataFrame(units), irregular, cfg).to_numpy()
        assert np.array_equal(got, expected, equal_nan=True)  # bit for bit, NaN where pandas has NaN
        after = np.zeros_like(stock)
        after[1:] = stock[:-1]
        with np.errstate(invalid="ignore"):
            censored = stock | (after & (units < cfg.censor_ratio * expected))
        assert (O.censored_cells(units, promo, stock, cfg) == censored).all()
    assert np.isfinite(expected).any() and censored.any() and not censored.all()


# --------------------------------------------------------------------------- hockey sticks

SNAP = pd.Timestamp("2026-06-01")  # a Monday


def snapshot(units, sku="A", source="sales", snap=SNAP) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "snapshot_date": snap,
            "sku": sku,
            "forecast_source": source,
            "week_start": [snap + pd.Timedelta(weeks=h) for h in range(1, len(units) + 1)],
            "units": np.asarray(units, dtype=float),
        }
    )


def actuals(level=100.0, sku="A", weeks=20) -> pd.DataFrame:
    return pd.DataFrame(
        {"sku": sku, "units": level, "week_start": [SNAP - pd.Timedelta(weeks=k) for k in range(1, weeks + 1)]}
    )


ITEMS = pd.DataFrame({"sku": ["A", "B"], "family": ["Snacks", "Snacks"]})
HOCKEY = [100, 95, 105, 98, 102, 100, 97, 300, 310, 290, 305, 300, 295]


def test_unsupported_hockey_stick_is_flagged_at_its_first_jump_week():
    flags = O.detect_hockey_sticks(snapshot(HOCKEY), actuals(), items=ITEMS)
    assert len(flags) == 1
    row = flags.iloc[0]
    assert row.week_start == SNAP + pd.Timedelta(weeks=8) and row.lag == 8 and row.weeks_flagged == 6
    assert row.expected == 100 and row.ratio == pytest.approx(3.0, rel=0.02)
    assert "2026-06-01" in row.reason and "run-rate" in row.reason and row.family == "Snacks"


@pytest.mark.parametrize(
    "units",
    [
        [140] * 13,  # optimistic throughout: a level, not a stick
        list(np.linspace(100, 200, 13)),  # gradual ramp (seasonality)
        [100, 100, 100, 100, 100, 100, 100, 300, 100, 300, 100, 300, 100],  # isolated weeks, no run
    ],
)
def test_levels_ramps_and_isolated_weeks_are_not_hockey_sticks(units):
    assert O.detect_hockey_sticks(snapshot(units), actuals(), items=ITEMS).empty


def test_promotions_orders_or_opportunities_support_the_jump():
    weeks = [SNAP + pd.Timedelta(weeks=h) for h in range(8, 14)]
    promos = pd.DataFrame(
        {
            "promo_id": ["P1"],
            "sku": ["A"],
            "location_or_customer": ["ALL"],
            "start_date": [weeks[0]],
            "end_date": [weeks[-1] + pd.Timedelta(days=6)],
        }
    )
    assert O.detect_hockey_sticks(snapshot(HOCKEY), actuals(), promotions=promos, items=ITEMS).empty
    orders = pd.DataFrame(
        {
            "sku": "A",
            "order_date": SNAP - pd.Timedelta(days=3),
            "requested_week_start": weeks,
            "qty": 150.0,
            "status": "open",
        }
    )
    assert O.detect_hockey_sticks(snapshot(HOCKEY), actuals(), orders=orders, items=ITEMS).empty
    late = orders.assign(order_date=SNAP + pd.Timedelta(days=10))  # booked after the snapshot: no support
    assert len(O.detect_hockey_sticks(snapshot(HOCKEY), actuals(), orders=late, items=ITEMS)) == 1
    opps = pd.DataFrame(
        {"sku_or_family": "Snacks", "expected_date": weeks, "qty": 400.0, "probability": 0.5, "status": "open"}
    )
    assert O.detect_hockey_sticks(snapshot(HOCKEY), actuals(), opportunities=opps, items=ITEMS).empty


def test_a_launch_without_an_established_run_rate_is_not_judged():
    launch = actuals(weeks=20)
    launch.loc[launch.week_start < SNAP - pd.Timedelta(weeks=3), "units"] = 0.0  # sold only the last 3 weeks
    assert O.detect_hockey_sticks(snapshot(HOCKEY), launch, items=ITEMS).empty


def test_hockey_sticks_need_a_run_rate_and_are_per_source():
    two = pd.concat([snapshot(HOCKEY), snapshot([100] * 13, source="marketing")], ignore_index=True)
    flags = O.detect_hockey_sticks(two, actuals(), items=ITEMS)
    assert flags.forecast_source.tolist() == ["sales"]
    assert O.detect_hockey_sticks(snapshot(HOCKEY, sku="B"), actuals(), items=ITEMS).empty  # no history for B


def test_promo_sku_weeks_expands_every_overlapped_week():
    promos = pd.DataFrame(
        {"sku": ["A"], "start_date": [pd.Timestamp("2026-01-08")], "end_date": [pd.Timestamp("2026-01-20")]}
    )
    weeks = O.promo_sku_weeks(promos).week_start.dt.strftime("%Y-%m-%d").tolist()
    assert weeks == ["2026-01-05", "2026-01-12", "2026-01-19"]
