"""The plan's inputs from warehouse frames equal the SQL they replaced (analytics.plan_inputs)."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd

from sop_pipeline.analytics import plan_inputs

WEEK1, AS_OF, HORIZON_END = date(2026, 11, 16), date(2026, 11, 15), date(2027, 2, 14)


def _purchase_orders():
    return pd.DataFrame(
        {
            "po_id": ["P1", "P1", "P2", "P3", "P4", "P5"],
            "line": [1, 2, 1, 1, 1, 1],
            "sku": ["A", "A", "B", "B", "C", "A"],
            "qty": [10.0, 5.0, 8.0, 4.0, 3.0, 6.0],
            "promised_date": pd.to_datetime(
                ["2026-11-25", "2026-11-10", "2026-10-01", "2026-12-03", "2027-03-01", "2026-11-30"]
            ),
        }
    )


def _receipts():
    return pd.DataFrame({"po_id": ["P1", "P1", "P3"], "line": [1, 1, 1], "qty": [4.0, 2.5, 4.0]})


def test_scheduled_receipts_equal_the_sql():
    po, rc = _purchase_orders(), _receipts()
    con = duckdb.connect()
    con.execute("set threads = 1")
    con.register("purchase_orders", po)
    con.register("receipts", rc)
    expected = con.execute(
        """
        with received as (select po_id, line, sum(qty) as qty from receipts group by all)
        select po.sku, greatest(date_trunc('week', po.promised_date), cast(? as date)) as week_start,
               po.qty - coalesce(r.qty, 0) as units, po.po_id || '/' || po.line as order_id
        from purchase_orders po left join received r using (po_id, line)
        where po.qty - coalesce(r.qty, 0) > 0
          and po.promised_date >= cast(? as date) - ?::integer
          and date_trunc('week', po.promised_date) <= cast(? as date)
        order by po.sku, week_start, order_id""",
        [WEEK1, AS_OF, plan_inputs.OPEN_ORDER_GRACE_DAYS, HORIZON_END],
    ).df()
    got = plan_inputs.scheduled_receipts(po, rc, WEEK1, AS_OF, HORIZON_END)
    assert got.order_id.tolist() == ["P1/2", "P1/1", "P5/1"]  # P2 closed short, P3 received, P4 after the horizon
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert got.week_start.tolist() == list(pd.to_datetime(["2026-11-16", "2026-11-23", "2026-11-30"]))


def test_capacity_hours_and_bottleneck():
    capacity = pd.DataFrame(
        {
            "resource_id": ["M1", "M2", "M1", "M2"],
            "week_start": pd.to_datetime(["2026-11-16", "2026-11-16", "2026-11-23", "2026-11-23"]),
            "available_hours": [40.0, 30.0, 10.0, np.nan],
            "changeover_hours": [5.0, None, 12.0, 1.0],
            "load_pct": [50.0, 90.0, 70.0, 80.0],
        }
    )
    routings = pd.DataFrame({"sku": ["A", "B", "C"], "resource_id": ["M1", "M3", "M2"], "units_per_hour": [1.0, 2, 3]})
    critical, hours, bottleneck = plan_inputs.capacity_inputs(capacity, routings)
    assert critical.sku.tolist() == ["A", "C"] and bottleneck == "M2"
    assert hours.hours.tolist() == [35.0, 30.0, 0.0, 0.0]
    assert plan_inputs.capacity_inputs(capacity.iloc[:0], routings)[2] is None


def test_consensus_demand_prefers_consensus_and_adds_sensing():
    weeks = pd.to_datetime(["2026-11-16", "2026-11-23"])
    forecast = pd.DataFrame(
        {
            "sku": ["A", "A"],
            "week_start": weeks,
            "horizon_week": [1, 2],
            "units_p50": [10.0, 0.0],
            "revenue": [50.0, 0.0],
        }
    )
    consensus = pd.DataFrame({"sku": ["A", "A"], "week_start": [weeks[0]] * 2, "consensus_units": [12.0, 14.0]})
    sensing = pd.DataFrame({"sku": ["A"], "week_start": [weeks[1]], "sensed_units": [3.0], "baseline_units": [1.0]})
    demand = plan_inputs.consensus_demand(forecast, consensus, sensing, 13)
    assert demand.demand_units.tolist() == [13.0, 2.0]
    assert demand.demand_source.tolist() == ["consensus", "statistical+sensing"]
    assert demand.selling_price.iloc[0] == 5.0 and np.isnan(demand.selling_price.iloc[1])  # no price at 0 units


def test_priority_puts_class_first_then_margin_per_bottleneck_hour():
    items = pd.DataFrame({"sku": ["A", "B", "C"], "unit_price": [10.0, 10.0, 10.0], "unit_cost": [5.0, 2.0, 1.0]})
    abc = pd.DataFrame({"sku": ["A", "B"], "abc": ["A", "A"]})
    routings = pd.DataFrame({"sku": ["A", "B", "C"], "resource_id": ["M1"] * 3, "units_per_hour": [10.0, 1.0, 1.0]})
    priority = plan_inputs.plan_priority(items, abc, routings, "M1")
    assert priority.sort_values().index.tolist() == ["A", "B", "C"]


def test_seasonal_safety_stock_follows_the_forecast_band_week_by_week():
    """k x sqrt(P) x (p90 - p10) / (2 x 1.2816) in each week, for a SKU forecast between seasons in every
    week only; a year-round SKU, one between seasons in some weeks only, and one without a finite k get
    no row (they keep their constant safety stock)."""
    weeks = pd.to_datetime(["2026-11-23", "2026-11-30"])
    forecast = pd.DataFrame(
        {
            "sku": ["S", "S", "Y", "Y", "M", "M", "Q", "Q"],
            "week_start": list(weeks) * 4,
            "units_p10": [1.0, 60.0, 8.0, 8.0, 0.0, 0.0, 1.0, 1.0],
            "units_p90": [6.0, 160.0, 12.0, 12.0, 5.0, 5.0, 9.0, 9.0],
            "model": ["between_seasons"] * 2
            + ["lightgbm"] * 2
            + ["between_seasons", "lightgbm"]
            + ["between_seasons"] * 2,
        }
    )
    policy = pd.DataFrame({"sku": ["S", "Y", "M", "Q"], "k": [2.0, 1.0, 1.0, np.nan], "protection_weeks": 4.0})
    out = plan_inputs.seasonal_safety_stock(policy, forecast)
    assert out.sku.tolist() == ["S", "S"] and list(out.week_start) == list(weeks)
    z90 = 1.2815515655446004
    assert np.allclose(out.safety_stock_units, [2.0 * 2.0 * 5.0 / (2 * z90), 2.0 * 2.0 * 100.0 / (2 * z90)])
    assert plan_inputs.seasonal_safety_stock(policy, forecast.iloc[:0]).empty
