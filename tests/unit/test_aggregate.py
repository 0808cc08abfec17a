"""sql_sum / sql_total equal DuckDB's one-thread SUM ... GROUP BY to the last bit."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from sop_pipeline.analytics.aggregate import sql_sum, sql_total


def _duckdb(sql: str, frame: pd.DataFrame) -> pd.DataFrame:
    con = duckdb.connect()
    con.execute("set threads = 1")
    con.register("frame", frame)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def test_grouped_sums_equal_the_warehouse_sql_in_values_and_group_order():
    rng = np.random.default_rng(3)
    n = 20_000
    frame = pd.DataFrame(
        {
            "family": rng.choice(["Dairy", "Snacks", None, "Frozen"], n),
            "week": rng.integers(0, 30, n),
            "revenue": rng.random(n) * 997.13,
        }
    )
    frame.loc[rng.random(n) < 0.1, "revenue"] = np.nan
    expected = _duckdb("select family, week, sum(revenue) as revenue from frame group by family, week", frame)
    assert sql_sum(frame, ["family", "week"], ["revenue"]).equals(expected)
    assert sql_total(frame.revenue) == _duckdb("select sum(revenue) as s from frame", frame).s.iloc[0]


def test_a_group_without_values_sums_to_null_and_columns_can_be_renamed():
    frame = pd.DataFrame({"sku": ["A", "B", "A"], "qty": [1.0, np.nan, 2.5]})
    out = sql_sum(frame, ["sku"], {"units": "qty"})
    assert list(out.columns) == ["sku", "units"] and out.sku.tolist() == ["A", "B"]
    assert out.units.iloc[0] == 3.5 and np.isnan(out.units.iloc[1])
    assert sql_total(pd.Series([np.nan])) is None and sql_total(pd.Series([], dtype=float)) is None


def test_medians_equal_the_warehouse_sql():
    from sop_pipeline.analytics.aggregate import sql_median

    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "resource_id": rng.choice(list("abcde"), 400),
            "performance": rng.random(400) * 0.97,
            "quality": rng.random(400),
        }
    )
    frame.loc[rng.random(400) < 0.1, "performance"] = np.nan
    for k in range(1, 8):
        part = frame.sample(frac=k / 8, random_state=k)
        expected = _duckdb(
            "select resource_id, median(performance) as performance, median(quality) as quality "
            "from frame group by resource_id",
            part,
        )
        assert sql_median(part, ["resource_id"], ["performance", "quality"]).equals(expected)
