"""Supply review inputs built from the staged tables (analytics.supply)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from sop_pipeline.analytics import supply


def test_planned_make_units_keeps_made_skus_in_the_horizon():
    forecast = pd.DataFrame(
        {
            "sku": ["A", "B", "A", "A"],
            "week_start": pd.to_datetime(["2026-11-16"] * 3 + ["2027-03-01"]),
            "horizon_week": [1, 1, 0, 16],
            "units_p50": [5.0, 6.0, 7.0, 8.0],
        }
    )
    out = supply.planned_make_units(forecast, 13, pd.Series({"A": "make", "B": "buy"}))
    assert out.to_dict("list") == {"sku": ["A"], "week_start": [pd.Timestamp("2026-11-16")], "units": [5.0]}


def test_orders_in_sequence_leave_out_cancelled_and_unknown_status():
    orders = pd.DataFrame(
        {
            "sku": ["A", "B", "A", "B"],
            "resource_id": ["M1"] * 4,
            "planned_start": pd.to_datetime(["2026-11-03", "2026-11-01", "2026-11-02", "2026-11-04"]),
            "status": ["released", "completed", "cancelled", None],
        }
    )
    routings = pd.DataFrame({"sku": ["A", "B"], "resource_id": ["M1", "M1"], "setup_family": ["F1", "F2"]})
    out = supply.production_orders_in_sequence(orders, routings)
    assert out.setup_family.tolist() == ["F2", "F1"] and out.planned_start.is_monotonic_increasing


def test_open_order_dues_are_the_earliest_request_per_sku_and_week():
    orders = pd.DataFrame(
        {
            "sku": ["A", "A", "A", "B"],
            "status": ["open", "open", "shipped", "open"],
            "requested_date": pd.to_datetime(["2026-11-19", "2026-11-17", "2026-11-16", "2026-11-25"]),
        }
    )
    dues = supply.open_order_dues(orders)
    assert list(dues.columns) == ["sku", "due", "week_start"]
    assert dues.due.tolist() == list(pd.to_datetime(["2026-11-17", "2026-11-25"]))
    assert dues.week_start.tolist() == list(pd.to_datetime(["2026-11-16", "2026-11-23"]))


def test_current_setup_is_the_family_of_the_last_order_before_week_1():
    orders = pd.DataFrame(
        {
            "sku": ["A", "B", "A"],
            "resource_id": ["M1", "M1", "M1"],
            "planned_start": pd.to_datetime(["2026-11-10", "2026-11-12", "2026-11-17"]),
        }
    )
    routings = pd.DataFrame({"sku": ["A", "B"], "resource_id": ["M1", "M1"], "setup_family": ["F1", "F2"]})
    assert supply.current_setups(orders, routings, date(2026, 11, 16)) == {"M1": "F2"}
    assert supply.current_setups(orders, routings, date(2026, 1, 1)) == {}
