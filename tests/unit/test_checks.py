"""The rules of the blocking checks (sop_pipeline.analytics.checks): each fails on the data it
is meant to stop, passes on good data, and names what broke."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from sop_pipeline.analytics.checks import (
    RowCounts,
    describe_forecast_breaks,
    describe_row_accounting,
    forecast_horizon_breaks,
    forecast_value_breaks,
    ingest_log_breaks,
    row_accounting_breaks,
)

WEEK1 = date(2026, 11, 23)


def _counts(**kw) -> RowCounts:
    base = dict(
        extract="pos_sales",
        file="/x/pos_sales.csv",
        rows_read=100,
        rows_loaded=90,
        rows_quarantined=7,
        rows_after_as_of=3,
        raw_rows=90,
        quarantine_rows=10,
        distinct_source_rows=100,
    )
    return RowCounts(**{**base, **kw})


# --------------------------------------------------------------------------- row accounting


def test_row_accounting_holds_when_every_row_is_loaded_or_quarantined_once():
    c = _counts()
    assert row_accounting_breaks(c) == []
    assert describe_row_accounting(c).startswith("row accounting pos_sales: holds (100 read = 90 loaded")


def test_row_accounting_names_missing_rows_and_the_file():
    c = _counts(raw_rows=88, rows_loaded=88)
    breaks = row_accounting_breaks(c)
    assert breaks and "2 row(s) missing" in breaks[0]
    text = describe_row_accounting(c)
    assert "pos_sales" in text and "/x/pos_sales.csv" in text and "100 rows read" in text


def test_row_accounting_catches_a_row_both_loaded_and_quarantined():
    # counts add up (a missing row hides behind a doubled one) but distinct source rows do not
    c = _counts(distinct_source_rows=99)
    assert any("more than once" in b for b in row_accounting_breaks(c))


def test_row_accounting_catches_report_and_tables_disagreeing():
    assert any(
        "raw.pos_sales has 91" in b
        for b in row_accounting_breaks(_counts(raw_rows=91, quarantine_rows=9, rows_loaded=90))
    )
    assert any(
        "quarantine.pos_sales has 11" in b
        for b in row_accounting_breaks(_counts(rows_read=101, quarantine_rows=11, distinct_source_rows=101))
    )
    assert any("too many" in b for b in row_accounting_breaks(_counts(rows_read=99, distinct_source_rows=None)))


def test_absent_extract_accounts_with_zero_rows():
    assert row_accounting_breaks(RowCounts("promotions", 0, 0, 0, 0, 0, 0, 0)) == []


def test_ingest_log_breaks_names_missing_and_unbalanced_extracts():
    log = pd.DataFrame(
        {
            "extract": ["items", "pos_sales"],
            "rows_read": [10, 100],
            "rows_loaded": [10, 95],
            "rows_quarantined": [0, 2],
            "rows_after_as_of": [0, 2],
        }
    )
    breaks = ingest_log_breaks(log, ["items", "pos_sales", "bom"])
    assert breaks[0] == "no ingest log row for bom"
    assert "pos_sales: 100 read but 95 loaded + 2 quarantined + 2 after the as-of = 99" in breaks[1]
    log.loc[1, "rows_loaded"] = 96
    assert ingest_log_breaks(log, ["items", "pos_sales"]) == []


# --------------------------------------------------------------------------- forecast


def _forecast(skus=("A", "B"), weeks=13) -> pd.DataFrame:
    rows = [
        {
            "sku": s,
            "week_start": pd.Timestamp(WEEK1 + timedelta(weeks=k)),
            "horizon_week": k + 1,
            "units_p10": 5.0,
            "units_p50": 10.0,
            "units_p90": 15.0,
            "revenue": 100.0,
        }
        for s in skus
        for k in range(weeks)
    ]
    return pd.DataFrame(rows)


def test_good_forecast_passes_both_rules():
    fc = _forecast()
    assert forecast_value_breaks(fc).empty
    assert forecast_horizon_breaks(fc, WEEK1).empty
    assert (
        describe_forecast_breaks(forecast_value_breaks(fc), "forecast values") == "forecast values: holds on every row"
    )


@pytest.mark.parametrize(
    "column, value, problem",
    [
        ("units_p50", -3.0, "units_p50=-3 is negative"),
        ("units_p10", np.nan, "units_p10 is NaN"),
        ("units_p90", np.inf, "units_p90 is infinite"),
        ("revenue", -np.inf, "revenue is infinite"),
    ],
)
def test_negative_nan_or_infinite_value_is_named_with_sku_and_week(column, value, problem):
    fc = _forecast()
    fc.loc[(fc.sku == "B") & (fc.horizon_week == 3), column] = value
    breaks = forecast_value_breaks(fc)
    assert len(breaks) >= 1
    first = breaks.iloc[0]
    assert (first.sku, pd.Timestamp(first.week_start).date(), first.problem) == (
        "B",
        WEEK1 + timedelta(weeks=2),
        problem,
    )
    assert f"B week of {WEEK1 + timedelta(weeks=2)}: {problem}" in describe_forecast_breaks(breaks, "forecast values")


def test_quantiles_out_of_order_break():
    fc = _forecast()
    fc.loc[0, "units_p10"] = 11.0  # p10 > p50
    fc.loc[5, "units_p90"] = 9.0  # p50 > p90
    problems = forecast_value_breaks(fc).problem.tolist()
    assert problems == ["units_p10=11 > units_p50=10", "units_p50=10 > units_p90=9"]


def test_quantile_order_only_checked_where_published():
    fc = _forecast().drop(columns=["units_p10", "units_p90"])
    fc["units_p50"] = 1.0
    assert forecast_value_breaks(fc).empty


def test_gap_in_the_horizon_is_named():
    fc = _forecast()
    fc = fc[~((fc.sku == "A") & (fc.horizon_week == 7))]
    breaks = forecast_horizon_breaks(fc, WEEK1)
    assert len(breaks) == 1
    assert breaks.iloc[0].problem == "no forecast row (gap in the horizon, week 7)"
    assert f"A week of {WEEK1 + timedelta(weeks=6)}" in describe_forecast_breaks(breaks, "forecast horizon")


def test_duplicate_series_week_outside_horizon_and_wrong_horizon_week_break():
    fc = _forecast()
    dup = fc.iloc[[3]]
    late = fc.iloc[[12]].assign(week_start=pd.Timestamp(WEEK1 + timedelta(weeks=13)), horizon_week=14)
    fc = pd.concat([fc, dup, late], ignore_index=True)
    fc.loc[20, "horizon_week"] = 2
    problems = forecast_horizon_breaks(fc, WEEK1).problem.tolist()
    assert "2 rows for one week (expected 1)" in problems
    assert any(p.startswith("week outside the horizon") for p in problems)
    assert any(p.startswith("horizon_week=2 but the week is horizon week 8") for p in problems)


def test_short_horizon_and_empty_forecast_break():
    assert len(forecast_horizon_breaks(_forecast(weeks=12), WEEK1)) == 2  # week 13 missing for A and B
    empty = forecast_horizon_breaks(_forecast().iloc[0:0], WEEK1)
    assert empty.problem.tolist() == ["the forecast has no rows"]


def test_series_of_several_columns():
    fc = pd.concat([_forecast().assign(location=loc) for loc in ("S1", "B2B")], ignore_index=True)
    fc = fc.drop(index=fc[(fc.location == "S1") & (fc.sku == "B") & (fc.horizon_week == 13)].index)
    breaks = forecast_horizon_breaks(fc, WEEK1, series=("sku", "location"))
    assert breaks[["sku", "location"]].values.tolist() == [["B", "S1"]]
    assert describe_forecast_breaks(breaks, "x", series=("sku", "location")).startswith("x: 1 break(s): B S1 week of")
