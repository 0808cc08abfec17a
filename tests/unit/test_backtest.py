"""Rolling-origin backtest: no leakage, lag matching, KPI arithmetic."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from sop_pipeline.analytics import backtest as BT
from sop_pipeline.analytics import forecasting as F
from tests.unit.test_forecasting import AS_OF, FAST, make_history

CONFIG = BT.BacktestConfig(origins=4, retrain_every=2, forecast=FAST, sensing=False)


@pytest.fixture(scope="module")
def data():
    history, promos = make_history(n_skus=8, seed=11)
    history = history[pd.to_datetime(history.week_start) <= pd.Timestamp(F.last_complete_week(AS_OF))]
    return history.drop(columns="units_clean"), promos


def test_backtest_scores_each_origin_lag_and_method(data):
    history, promos = data
    result = BT.backtest(history, AS_OF, promos, config=CONFIG)
    e = result.errors
    assert list(e.columns) == BT.BACKTEST_COLUMNS
    assert set(e.method) == {"lightgbm", "seasonal_naive"} and result.fits == 2
    assert e.origin.nunique() == 4
    assert e.week_start.max() <= pd.Timestamp(F.last_complete_week(AS_OF))  # only matured weeks
    per_origin = e[e.method == "lightgbm"].groupby("origin").lag.max().sort_index()
    assert per_origin.tolist() == [4, 3, 2, 1]  # origin k weeks back can be scored up to lag k
    s = result.summary.set_index("method")
    assert s.loc["lightgbm", "wape"] < s.loc["seasonal_naive", "wape"]


def test_no_leakage_future_rows_do_not_change_the_forecast(data):
    history, promos = data
    origin = AS_OF - timedelta(weeks=6)
    changed = history.copy()
    later = pd.to_datetime(changed.week_start) > pd.Timestamp(F.last_complete_week(origin))
    changed.loc[later, "units"] *= 10  # wildly different future
    cfg = BT.BacktestConfig(origins=1, retrain_every=1, forecast=FAST, sensing=False)
    a = BT.backtest(history, origin + timedelta(weeks=1), promos, config=cfg).errors
    b = BT.backtest(changed, origin + timedelta(weeks=1), promos, config=cfg).errors
    fa = a[a.method == "lightgbm"].forecast_units.to_numpy()
    fb = b[b.method == "lightgbm"].forecast_units.to_numpy()
    assert len(fa) > 0 and np.allclose(fa, fb)
    assert not np.allclose(a.actual_units, b.actual_units)


def test_sales_forecast_is_matched_at_the_same_lag(data):
    history, promos = data
    origin_weeks = pd.date_range(
        end=pd.Timestamp(F.last_complete_week(AS_OF)) + pd.Timedelta(days=7), periods=30, freq="7D"
    )
    skus = history.sku.unique()
    rows = [
        {
            "snapshot_date": s,
            "sku": k,
            "week_start": s + pd.Timedelta(weeks=h),
            "units": 1000.0 * h,
            "forecast_source": "sales",
        }
        for s in origin_weeks
        for k in skus
        for h in range(1, 14)
    ]
    result = BT.backtest(history, AS_OF, promos, sales_forecast=pd.DataFrame(rows), config=CONFIG)
    sales = result.errors[result.errors.method == "sales_forecast"]
    assert len(sales) and (sales.forecast_units == 1000.0 * sales.lag).all()
    keys = result.errors.groupby("method").size()
    assert keys.nunique() == 1  # every method scored on the same SKU-weeks


def test_accuracy_kpis_match_the_definitions():
    e = pd.DataFrame(
        {
            "origin": pd.Timestamp("2026-01-04"),
            "family": "F",
            "lag": 1,
            "method": "m",
            "sku": ["a", "b", "a", "b"],
            "week_start": pd.to_datetime(["2026-01-05"] * 2 + ["2026-01-12"] * 2),
            "forecast_units": [12.0, 8.0, 10.0, 0.0],
            "actual_units": [10.0, 10.0, 0.0, 5.0],
        }
    )
    row = BT.accuracy(e).iloc[0]
    assert row.wape == pytest.approx((2 + 2 + 10 + 5) / 25)
    assert row.mape == pytest.approx((0.2 + 0.2 + 1.0) / 3)  # the zero-actual week is left out
    assert row.bias == pytest.approx((2 - 2 + 10 - 5) / 25)
    family_wape = (abs(20 - 20) + abs(10 - 5)) / 25
    assert row.mix_error == pytest.approx(row.wape - family_wape)
    assert row.cycles == 1
