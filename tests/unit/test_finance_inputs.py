"""The finance section's inputs: months compared, sales and plan totals, B2B share, plan basis."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from sop_pipeline.analytics import finance


def test_last_complete_month():
    assert finance.last_complete_month(date(2026, 11, 15)) == date(2026, 10, 1)
    assert finance.last_complete_month(date(2026, 10, 31)) == date(2026, 10, 1)
    assert finance.last_complete_month(date(2026, 1, 1)) == date(2025, 12, 1)


def _sales():
    return pd.DataFrame(
        {
            "sales_date": pd.to_datetime(["2026-09-10", "2026-10-05", "2026-10-20", "2026-11-10", "2026-11-12"]),
            "week_start": pd.to_datetime(["2026-09-07", "2026-10-05", "2026-10-19", "2026-11-09", "2026-11-09"]),
            "month_start": pd.to_datetime(["2026-09-01", "2026-10-01", "2026-10-01", "2026-11-01", "2026-11-01"]),
            "sku": ["A", "A", "B", "A", "B"],
            "family": ["F", "F", "G", "F", "G"],
            "channel": ["b2b", "pos", "b2b", "b2b", "pos"],
            "units": [1.0, 2.0, 3.0, 4.0, 5.0],
            "revenue": [10.0, 20.0, 30.0, 40.0, 60.0],
            "cogs": [5.0, 10.0, 15.0, 20.0, 30.0],
        }
    )


def test_bridge_vs_prior_month_and_plan_adds_up():
    plan = pd.DataFrame(
        {
            "month_start": pd.to_datetime(["2026-10-01", "2026-10-01"]),
            "family": ["F", "G"],
            "units": [2.0, 2.0],
            "revenue": [25.0, 25.0],
        }
    )
    bridge, has_plan = finance.pvm_month_bridge(_sales(), plan, date(2026, 11, 15))
    assert has_plan and set(bridge.comparison) == {"vs_plan", "vs_prior_month"}
    assert (bridge.month_start == date(2026, 10, 1)).all()
    total = bridge[(bridge.comparison == "vs_plan") & (bridge.level == "total")].iloc[0]
    assert total.revenue_actual == 50.0 and total.revenue_base == 50.0
    effects = bridge.price_effect + bridge.volume_effect + bridge.mix_effect
    assert ((effects - bridge.total_difference).abs().fillna(0) < 1e-9).all()


def test_b2b_share_and_history_to_the_as_of():
    sales = _sales()
    assert finance.b2b_revenue_share(sales, date(2026, 11, 15)) == pytest.approx(80.0 / 160.0)
    history = finance.b2b_weekly_history(sales, date(2026, 10, 31))
    assert history.week_start.is_monotonic_increasing and history.revenue.tolist() == [10.0, 0.0, 30.0]
    assert finance.b2b_revenue_share(sales.iloc[:0], date(2026, 11, 15)) is None


def test_plan_basis_counts_negative_projection_as_zero_and_splits_unused_stock():
    plan = pd.DataFrame(
        {
            "sku": ["A", "B", "A"],
            "week_start": pd.to_datetime(["2026-11-23", "2026-11-16", "2026-11-16"]),
            "revenue": [1.0, 2.0, 3.0],
            "demand_units": [1.0, 1.0, 2.0],
            "projected_inventory_units": [-5.0, 4.0, None],
        }
    )
    items = pd.DataFrame({"sku": ["A", "B"], "unit_cost": [2.0, 3.0]})
    weekly = finance.planned_weekly(plan, items)
    assert weekly.week_start.tolist() == list(pd.to_datetime(["2026-11-16", "2026-11-23"]))
    assert weekly.cogs.tolist() == [7.0, 2.0] and weekly.inventory_value.tolist() == [12.0, 0.0]
    stock = pd.DataFrame({"sku": ["A", "B", "A"], "qty": [1.0, 2.0, 4.0], "usability": ["hold", "expired", "usable"]})
    assert finance.stock_outside_plan(stock, items) == (2.0, 6.0)
