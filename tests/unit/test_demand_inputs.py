"""analytics.demand_inputs: the demand assets' inputs and published shapes (what their SQL did)."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd

from sop_pipeline.analytics import demand_inputs as inputs


def _weekly() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sku": ["B", "A", "A", "B", "A"],
            "location": ["S1", "S2", "S1", "S1", "S1"],
            "week_start": pd.to_datetime(["2026-01-05", "2026-01-05", "2026-01-12", "2025-12-29", "2026-01-05"]),
            "units": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )


def test_weekly_history_is_the_sql_order_by():
    frame = _weekly()
    with duckdb.connect() as con:
        con.register("w", frame)
        expected = con.execute("select * from w order by sku, location, week_start").df()
    pd.testing.assert_frame_equal(inputs.weekly_history(frame), expected, check_dtype=False)
    assert list(inputs.weekly_history(frame).index) == list(range(len(frame)))


def test_staged_is_none_when_absent_and_selects_columns():
    frame = pd.DataFrame({c: [1] for c in [*inputs.SALES_FORECAST_COLUMNS, "source_row"]})
    assert inputs.staged(frame, "sales_forecast", {"sales_forecast"}) is None
    assert (
        list(inputs.staged(frame, "sales_forecast", set(), inputs.SALES_FORECAST_COLUMNS).columns)
        == inputs.SALES_FORECAST_COLUMNS
    )
    assert inputs.staged(frame, "sales_forecast", {"promotions"}) is frame


def test_hockey_weeks_keep_only_hockey_sticks():
    flags = pd.DataFrame(
        {"kind": ["outlier", "hockey_stick", "hockey_stick"], **{c: [1, 2, 3] for c in inputs.HOCKEY_WEEK_COLUMNS}}
    )
    out = inputs.hockey_weeks(flags)
    assert list(out.columns) == inputs.HOCKEY_WEEK_COLUMNS and out.sku.tolist() == [2, 3]
    assert list(out.index) == [0, 1]


def test_flag_table_typed_even_when_empty():
    empty = inputs.flag_table(
        pd.DataFrame(columns=["sku", "family", "week_start", "value", "expected", "reason"]),
        pd.DataFrame(columns=["sku", "snapshot_date", "forecast_source"]),
        {},
    )
    assert list(empty.columns) == inputs.FLAG_COLUMNS and empty.empty
    assert empty.value.dtype == float and str(empty.lag.dtype) == "Int64" and empty.is_latest_snapshot.dtype == bool
    assert str(empty.week_start.dtype) == "datetime64[us]"


def test_latest_snapshot_flag():
    latest = inputs.latest_snapshots(
        pd.DataFrame(
            {"snapshot_date": pd.to_datetime(["2026-01-05", "2026-01-12"]), "forecast_source": ["sales", "sales"]}
        )
    )
    hockey = pd.DataFrame(
        {
            "sku": ["A", "A"],
            "snapshot_date": pd.to_datetime(["2026-01-05", "2026-01-12"]),
            "forecast_source": ["sales", "sales"],
        }
    )
    table = inputs.flag_table(pd.DataFrame(columns=["sku"]), hockey, latest)
    assert table.is_latest_snapshot.tolist() == [False, True]
    assert inputs.latest_snapshots(None) == {}


def test_promotions_absent_note():
    flags = pd.DataFrame({"reason": ["spike"]})
    assert inputs.note_promotions_absent(flags.copy(), set()).reason.iloc[0] == "spike"
    assert (
        inputs.note_promotions_absent(flags.copy(), {"promotions"})
        .reason.iloc[0]
        .endswith("told apart from an outlier.")
    )


def test_published_forecast_and_history_rows():
    fc = pd.DataFrame(
        {
            "sku": ["A", "A"],
            "family": ["F", "F"],
            "week_start": pd.to_datetime(["2026-11-16", "2026-11-23"]),
            "horizon_week": [0, 1],
            "units_p10": [1.0, 1.0],
            "units_p50": [2.0, 2.0],
            "units_p90": [3.0, 3.0],
            "model": ["m", "m"],
        }
    )
    sku = inputs.published_forecast(fc, date(2026, 11, 18), horizon_only=True)
    assert sku.columns[0] == "cycle_id" and sku.horizon_week.tolist() == [1]
    assert len(inputs.published_forecast(fc, date(2026, 11, 18))) == 2
    rows = inputs.forecast_history_rows(sku)
    assert list(rows.columns) == inputs.FORECAST_HISTORY_COLUMNS
    assert rows.lag.tolist() == [1] and rows.week_start.iloc[0] == date(2026, 11, 23)


def test_nowcast_only_mid_week_with_pos():
    week0, daily = pd.DataFrame({"x": [1]}), pd.DataFrame({"y": [1]})
    assert inputs.nowcast_pos(week0, daily, date(2026, 11, 18), set()) == (week0, daily)
    assert inputs.nowcast_pos(week0, daily, date(2026, 11, 22), set()) == (None, None)  # Sunday
    assert inputs.nowcast_pos(week0, daily, date(2026, 11, 18), {"pos_sales"}) == (None, None)


def test_backtest_improvement_rule():
    summary = pd.DataFrame({"method": ["lightgbm", "seasonal_naive"], "wape": [0.3, 0.4], "bias": [0.0, 0.0]})
    wape = inputs.wape_by_method(summary)
    assert np.isnan(wape["sales_forecast"])
    assert inputs.improvement_vs_naive(wape) == 1 - 0.3 / 0.4 and inputs.beats_naive(0.25)
    assert not inputs.beats_naive(0.05) and not inputs.beats_naive(float("nan"))
    assert np.isnan(inputs.improvement_vs_naive(inputs.wape_by_method(summary.iloc[0:0])))
