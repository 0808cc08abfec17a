"""Forecast consumption: own week, then backward, then forward, inside the window (hand-computed)."""

import pandas as pd
import pytest

from sop_pipeline.analytics import consumption as cons

WEEKS = pd.to_datetime(["2026-11-23", "2026-11-30", "2026-12-07", "2026-12-14"])


def _forecast(units, sku="A") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sku": sku,
            "week_start": WEEKS[: len(units)],
            "horizon_week": range(1, len(units) + 1),
            "forecast_units": units,
        }
    )


def _orders(*rows) -> pd.DataFrame:
    return pd.DataFrame(
        [(f"SO{n}", 1, sku, pd.Timestamp(d), float(q)) for n, (sku, d, q) in enumerate(rows)],
        columns=["order_id", "line", "sku", "demand_date", "open_units"],
    )


def test_own_week_then_backward_then_forward():
    # forecast 100, 100, 50, 100. Order of 180 due Wed 2026-12-09 (week 3): own week 50, then back
    # week 2 100, then back week 1 (window 14 days back reaches Wed 2026-11-25, inside week 1) 30.
    c = cons.consume(_forecast([100.0, 100, 50, 100]), _orders(("A", "2026-12-09", 180)))
    assert c.consumed_units.tolist() == [30.0, 100.0, 50.0, 0.0]
    assert c.remaining_units.tolist() == [70.0, 0.0, 0.0, 100.0]
    assert c.booked_units.tolist() == [0.0, 0.0, 180.0, 0.0]
    assert c.planned_demand_units.tolist() == [70.0, 0.0, 180.0, 100.0]
    assert c.planned_demand_units.sum() == 350.0  # = total forecast: every order fitted
    assert cons.consumption_breaks(c) == []


def test_window_limits_and_unconsumed_excess():
    # backward 0 days, forward 7: an order of 120 due Mon 2026-11-30 (week 2) takes week 2's 40,
    # then week 3 (Mon 2026-12-07 is within 7 days ahead) 30; week 1 is outside; 50 unconsumed.
    c = cons.consume(
        _forecast([100.0, 40, 30, 100]), _orders(("A", "2026-11-30", 120)), backward_days=0, forward_days=7
    )
    assert c.consumed_units.tolist() == [0.0, 40.0, 30.0, 0.0]
    assert c.unconsumed_units.tolist() == [0.0, 50.0, 0.0, 0.0]
    # plan: week 2 = remaining 0 + booked 120, i.e. 50 above the forecast overall
    assert c.planned_demand_units.tolist() == [100.0, 120.0, 0.0, 100.0]
    assert c.planned_demand_units.sum() == pytest.approx(270.0 + 50.0)
    assert cons.consumption_breaks(c) == []


def test_earlier_orders_consume_first_and_orders_outside_the_horizon_are_ignored():
    # two orders in week 1 (Tue 30, Thu 50) on a forecast of 60: the Tuesday one takes 30, the
    # Thursday one takes 30 and then 20 forward from week 2 (forward 7 days of Thu 2026-11-26
    # reaches Thu 2026-12-03, inside week 2).
    orders = _orders(("A", "2026-11-26", 50), ("A", "2026-11-24", 30), ("A", "2026-11-20", 999), ("B", "2026-11-24", 5))
    c = cons.consume(_forecast([60.0, 100.0]), orders)
    assert c.consumed_units.tolist() == [60.0, 20.0]
    assert c.booked_units.tolist() == [80.0, 0.0] and c.booked_lines.tolist() == [2, 0]
    assert c.planned_demand_units.tolist() == [80.0, 80.0]


def test_booked_orders_are_open_lines_with_units_left():
    so = pd.DataFrame(
        {
            "order_id": ["1", "2", "3", "4"],
            "line": [1, 1, 1, 1],
            "sku": ["A"] * 4,
            "qty": [10.0, 10.0, 10.0, 10.0],
            "requested_date": pd.to_datetime(["2026-11-24", None, "2026-11-24", "2026-11-24"]),
            "promised_date": pd.to_datetime(["2026-11-25", "2026-11-26", "2026-11-25", "2026-11-25"]),
            "status": ["open", "partially_shipped", "cancelled", "shipped"],
        }
    )
    sh = pd.DataFrame({"order_id": ["2"], "line": [1], "qty": [4.0]})
    b = cons.booked_orders(so, sh)
    assert b.order_id.tolist() == ["1", "2"] and b.open_units.tolist() == [10.0, 6.0]
    assert b.demand_date.tolist() == [pd.Timestamp("2026-11-24"), pd.Timestamp("2026-11-26")]  # promised if no request


def test_breaks_name_the_sku_week():
    c = cons.consume(_forecast([10.0]), _orders(("A", "2026-11-24", 5)))
    c.loc[0, "remaining_units"] = 9.0
    assert cons.consumption_breaks(c) == [
        "A 2026-11-23: remaining + consumed != forecast",
        "A 2026-11-23: planned != remaining + booked",
    ]
    with pytest.raises(ValueError, match="must not be negative"):
        cons.consume(_forecast([10.0]), _orders(), backward_days=-1)


def test_no_forecast_or_no_orders():
    assert cons.consume(_forecast([]), _orders(("A", "2026-11-24", 5))).empty
    c = cons.consume(_forecast([10.0, 20.0]), _orders())
    assert c.planned_demand_units.tolist() == [10.0, 20.0] and c.booked_units.sum() == 0
