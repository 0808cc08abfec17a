"""Demand sensing: booking curve, booked-order sensing, week-0 nowcast, missing signals."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from sop_pipeline.analytics import sensing as S
from sop_pipeline.analytics.calendar import Cycle

SUNDAY = date(2026, 6, 28)
WEDNESDAY = date(2026, 7, 1)


def baseline(as_of: date, b2b=100.0, store=200.0, week0=False) -> pd.DataFrame:
    c = Cycle(as_of)
    rows = []
    for k in range(0 if week0 else 1, 14):
        week = pd.Timestamp(c.week1_start) + pd.Timedelta(weeks=k - 1)
        rows.append(
            {
                "sku": "A",
                "location": "S01",
                "channel": "store",
                "family": "Snacks",
                "week_start": week,
                "horizon_week": k,
                "units_p50": store,
                "season_ratio": 1.0,
            }
        )
        rows.append(
            {
                "sku": "A",
                "location": "B2B",
                "channel": "b2b",
                "family": "Snacks",
                "week_start": week,
                "horizon_week": k,
                "units_p50": b2b,
                "season_ratio": 1.0,
            }
        )
    return pd.DataFrame(rows)


def order_book(as_of: date, lead_days=(3, 10), weeks=30, qty=50.0) -> pd.DataFrame:
    """Every week, one order line per lead time, requested for that week's Monday."""
    mondays = pd.date_range(
        end=pd.Timestamp(Cycle(as_of).week1_start) + pd.Timedelta(weeks=6), periods=weeks, freq="7D"
    )
    rows = [
        {"sku": "A", "requested_week_start": m, "order_date": m - pd.Timedelta(days=d), "qty": qty, "status": "open"}
        for m in mondays
        for d in lead_days
    ]
    return pd.DataFrame(rows)


def test_booking_curve_is_the_share_booked_that_many_days_ahead():
    curve = S.booking_curve(order_book(SUNDAY), SUNDAY, days_ahead=[1, 5, 8, 15, -2])
    assert curve.tolist() == pytest.approx([1.0, 0.5, 0.5, 0.0, 1.0])


def test_booked_orders_plus_the_unbooked_part_of_the_baseline():
    orders = order_book(SUNDAY)
    orders.loc[orders.requested_week_start == pd.Timestamp("2026-07-13"), "qty"] = 150  # big order in week 3
    out = S.sense(baseline(SUNDAY), SUNDAY, orders=orders, promotions=None).set_index("horizon_week")
    assert out.index.tolist() == [1, 2, 3, 4, 5, 6]
    # week 1 (1 day ahead): usually 100% booked -> sensed B2B = booked 100
    assert out.loc[1, "b2b_usual_booked_share"] == pytest.approx(1.0)
    assert out.loc[1, "sensed_units"] == pytest.approx(200 + 100)
    # week 3 (15 days ahead): nothing usually booked; the 150 booked (10 days ahead? no: 3 and 10)
    assert out.loc[2, "b2b_usual_booked_share"] == pytest.approx(0.5)
    assert out.loc[2, "b2b_booked_units"] == pytest.approx(50)  # only the 10-day line is in by the as-of
    assert out.loc[2, "sensed_units"] == pytest.approx(200 + 50 + 0.5 * 100)
    assert out.loc[3, "b2b_booked_units"] == 0 and out.loc[3, "sensed_units"] == pytest.approx(300)
    assert "already booked" in out.loc[2, "reason"]
    assert "week-0 POS (as-of is a Sunday" in out.loc[1, "signals_missing"]


def test_missing_orders_and_promotions_are_named_and_baseline_passes_through():
    out = S.sense(baseline(SUNDAY), SUNDAY, orders=None, promotions=None)
    assert np.allclose(out.sensed_units, out.baseline_units) and (out.delta_units == 0).all()
    assert out.signals_missing.str.contains("sales_orders extract absent").all()
    assert out.signals_missing.str.contains("promotions extract absent").all()
    assert out.reason.str.contains("Missing signals").all()


def test_week0_nowcast_and_pace_when_the_as_of_is_mid_week():
    base = baseline(WEDNESDAY, week0=True)
    daily = pd.DataFrame(
        {"family": "Snacks", "units": 10.0, "sales_date": pd.date_range(end="2026-06-28", periods=13 * 7, freq="D")}
    )
    pos0 = pd.DataFrame(
        {
            "sku": ["A"] * 3,
            "location": "S01",
            "family": "Snacks",
            "sales_date": pd.date_range("2026-06-29", periods=3, freq="D"),
            "units": [40.0, 40.0, 40.0],
        }
    )
    out = S.sense(base, WEDNESDAY, orders=None, pos_week0=pos0, pos_history_daily=daily).set_index("horizon_week")
    share = 3 / 7  # flat weekday profile: Mon-Wed = 3/7 of the week
    assert out.loc[0, "week0_pos_units"] == 120
    assert out.loc[0, "sensed_units"] == pytest.approx(120 + (1 - share) * 200 + 100)
    pace = min(120 / (share * 200) - 1, 0.3)
    assert out.loc[1, "sensed_units"] == pytest.approx(300 + 200 * pace * 0.5 * share)
    assert out.loc[2, "sensed_units"] == pytest.approx(300 + 200 * pace * 0.25 * share)
    assert out.loc[3, "delta_units"] == 0
    assert "Week 0" in out.loc[0, "reason"] and "week-0 POS" in out.loc[0, "signals_used"]


def test_promotions_are_named_not_double_counted():
    promos = pd.DataFrame(
        {
            "promo_id": ["P7"],
            "sku": ["A"],
            "location_or_customer": ["ALL"],
            "start_date": [pd.Timestamp("2026-07-06")],
            "end_date": [pd.Timestamp("2026-07-12")],
            "discount_pct": [0.2],
        }
    )
    out = S.sense(baseline(SUNDAY), SUNDAY, orders=None, promotions=promos).set_index("horizon_week")
    assert "P7 (20% off, ALL)" in out.loc[2, "reason"] and "already in the baseline" in out.loc[2, "reason"]
    assert "P7" not in out.loc[3, "reason"] and out.loc[2, "delta_units"] == 0


# --------------------------------------------------------------------------- the backtest's fast path


def _random_case(seed: int, as_of: date):
    """Random location forecast (stores + B2B, some SKUs with two B2B series, zero and fractional
    units) and a random order book (cancelled lines, missing dates, leads into the week and ahead)."""
    rng = np.random.default_rng(seed)
    c = Cycle(as_of)
    skus = [f"S{i:02d}" for i in range(12)]
    rows = []
    for s in skus:
        locs = [("ST1", "store"), ("ST2", "store"), ("B2B", "b2b")] + ([("B2B2", "b2b")] if s in ("S03", "S07") else [])
        for loc, channel in locs:
            for k in range(1, 14):
                u = 0.0 if rng.random() < 0.2 else float(rng.gamma(1.5, 40.0))
                rows.append(
                    (s, loc, channel, "F" + s[-1], pd.Timestamp(c.week1_start) + pd.Timedelta(weeks=k - 1), k, u)
                )
    base = pd.DataFrame(
        rows, columns=["sku", "location", "channel", "family", "week_start", "horizon_week", "units_p50"]
    )
    n = 400
    req = pd.Timestamp(c.week1_start) + pd.to_timedelta(rng.integers(-30, 8, n) * 7, unit="D")
    orders = pd.DataFrame(
        {
            "sku": rng.choice(skus[:9] + ["OTHER"], n),
            "requested_week_start": req,
            "order_date": req - pd.to_timedelta(rng.integers(-3, 40, n), unit="D"),
            "qty": np.round(rng.gamma(1.2, 30.0, n), 1),
            "status": rng.choice(["open", "shipped", "cancelled"], n, p=[0.5, 0.4, 0.1]),
        }
    )
    orders.loc[rng.random(n) < 0.05, "order_date"] = pd.NaT
    return base, orders


@pytest.mark.parametrize("as_of", [SUNDAY, WEDNESDAY])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sensed_units_are_sense_s_numbers_to_the_bit(seed, as_of):
    base, orders = _random_case(seed, as_of)
    keys = ["sku", "family", "week_start", "horizon_week"]
    # the backtest's SKU rows: its own sum of the series (the same grouping as sense's baseline)
    fc = (
        base.groupby(keys, as_index=False, observed=True)["units_p50"]
        .sum()
        .rename(columns={"units_p50": "baseline_units"})
    )
    fc = fc.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # any row order
    for book in (orders, orders.iloc[:0], orders.assign(order_date=orders.order_date + pd.Timedelta(days=400))):
        ref = S.sense(base, as_of, orders=book, config=S.SensingConfig(window_weeks=6))
        want = ref.set_index(["sku", "week_start"])["sensed_units"].reindex(
            pd.MultiIndex.from_arrays([fc.sku, fc.week_start])
        )
        got = S.sensed_units(base, fc, as_of, S.live_orders(book), S.SensingConfig(window_weeks=6))
        np.testing.assert_array_equal(got, want.to_numpy())
        assert np.isnan(got[fc.horizon_week.to_numpy() > 6]).all()
        assert np.isfinite(got[fc.horizon_week.to_numpy() <= 6]).all()
    # the booked orders change the numbers (the comparison above is not trivially baseline = baseline)
    got = S.sensed_units(base, fc, as_of, S.live_orders(orders), S.SensingConfig(window_weeks=6))
    inside = fc.horizon_week.to_numpy() <= 6
    assert (got[inside] != fc.baseline_units.to_numpy()[inside]).any()


def test_live_orders_up_to_an_as_of_are_the_lines_sense_counts():
    _, orders = _random_case(5, SUNDAY)
    live = S.live_orders(orders)
    pd.testing.assert_frame_equal(S._live_orders(orders, SUNDAY), S._live_orders(None, SUNDAY, live))
    assert not (S._live_orders(orders, SUNDAY).order_date > pd.Timestamp(SUNDAY)).any()


def test_the_booking_curve_from_prepared_order_lines_is_the_same_at_every_as_of():
    _, orders = _random_case(7, SUNDAY)
    live = S.live_orders(orders)
    for k in range(-8, 3):
        as_of = SUNDAY + pd.Timedelta(days=7 * k + (k % 3)).to_pytimedelta()
        days = [-3, 0, 1, 5, 8, 15, 30]
        pd.testing.assert_series_equal(
            S.booking_curve(orders, as_of, days), S.booking_curve(None, as_of, days, live=live)
        )
