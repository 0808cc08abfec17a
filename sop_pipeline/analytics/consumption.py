"""Forecast consumption by booked sales orders (the IBP way).

A booked order is an open sales order line (status ``open`` or ``partially_shipped`` as of the
cycle, not cancelled) with units still to ship (ordered - shipped on or before the as-of) whose
demand date - the requested date, else the promised date - falls in the 13-week horizon. Past-due
lines (demand date before week 1) and lines due after the horizon consume nothing.

Orders are taken by demand date (then order id and line). Each consumes the remaining forecast of
its SKU in its own week first, then backward (the week before, then the one before that ...), then
forward, over the weeks inside the window: a week is inside when any of its days lies between the
demand date - ``backward_days`` and the demand date + ``forward_days`` (defaults
``DEFAULT_BACKWARD_DAYS`` = 14 and ``DEFAULT_FORWARD_DAYS`` = 7). What an order cannot consume is
*unconsumed* (booked above forecast).

Per SKU-week: ``forecast_units`` (the consensus after overrides), ``booked_units`` (open units due
that week), ``consumed_units`` (forecast of that week consumed by any order), ``remaining_units`` =
forecast - consumed, ``booked_consumed_units`` / ``unconsumed_units`` (that week's orders that did /
did not find forecast) and ``planned_demand_units`` = remaining + booked: what the plan of record
plans, never less than what is booked, and equal to the forecast wherever the orders fit in it.

Pure pandas; no Dagster import.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_BACKWARD_DAYS = 14
DEFAULT_FORWARD_DAYS = 7
OPEN_STATUSES = ("open", "partially_shipped")
CONSUMPTION_COLUMNS = [
    "sku",
    "week_start",
    "horizon_week",
    "forecast_units",
    "booked_units",
    "consumed_units",
    "remaining_units",
    "booked_consumed_units",
    "unconsumed_units",
    "planned_demand_units",
    "booked_lines",
]


def booked_orders(sales_orders: pd.DataFrame, shipments: pd.DataFrame | None) -> pd.DataFrame:
    """Open order lines with units left to ship: ``order_id, line, sku, demand_date, open_units``.

    ``sales_orders``: staged lines (status as of the cycle); ``shipments``: staged shipments (on or
    before the as-of; None when the extract is absent)."""
    so = sales_orders[sales_orders["status"].isin(OPEN_STATUSES)]
    so = so[["order_id", "line", "sku", "qty", "requested_date", "promised_date"]].copy()
    if shipments is not None and len(shipments):
        shipped = shipments.groupby(["order_id", "line"], as_index=False).qty.sum().rename(columns={"qty": "shipped"})
        so = so.merge(shipped, on=["order_id", "line"], how="left")
    else:
        so["shipped"] = 0.0
    so["open_units"] = (so["qty"] - so["shipped"].fillna(0.0)).clip(lower=0.0)
    so["demand_date"] = pd.to_datetime(so["requested_date"]).fillna(pd.to_datetime(so["promised_date"]))
    so = so[(so.open_units > 0) & so.demand_date.notna()]
    return so[["order_id", "line", "sku", "demand_date", "open_units"]].reset_index(drop=True)


def _window(day: int, weeks: np.ndarray, backward_days: int, forward_days: int) -> list[int]:
    """Indices into ``weeks`` (sorted Mondays, as day numbers) an order due on ``day`` may consume, in
    order: its own week, then backward (nearest first), then forward; only weeks with a day inside
    [day - backward_days, day + forward_days]."""
    own = day - (day + 3) % 7  # day numbers count from 1970-01-01, a Thursday: Monday = day - (day + 3) % 7
    lo = int(np.searchsorted(weeks, day - backward_days - 6, side="left"))
    hi = int(np.searchsorted(weeks, day + forward_days, side="right"))
    pos = int(np.searchsorted(weeks, own, side="left"))
    has_own = pos < len(weeks) and weeks[pos] == own
    first = [pos] if has_own and lo <= pos < hi else []
    return first + list(range(min(pos, hi) - 1, lo - 1, -1)) + list(range(max(pos + has_own, lo), hi))


def consume(
    forecast: pd.DataFrame,
    orders: pd.DataFrame,
    backward_days: int = DEFAULT_BACKWARD_DAYS,
    forward_days: int = DEFAULT_FORWARD_DAYS,
) -> pd.DataFrame:
    """Consume ``forecast`` (``sku, week_start, horizon_week, forecast_units``, one row per SKU x
    horizon week) with ``orders`` (`booked_orders`); CONSUMPTION_COLUMNS per SKU-week (module
    docstring). Orders of a SKU without forecast rows, or due outside the forecast's weeks, are left
    out."""
    if backward_days < 0 or forward_days < 0:
        raise ValueError(f"consumption window must not be negative: backward {backward_days}, forward {forward_days}")
    fc = forecast[["sku", "week_start", "horizon_week", "forecast_units"]].copy()
    fc["week_start"] = pd.to_datetime(fc["week_start"]).astype("datetime64[us]")
    fc = fc.sort_values(["sku", "week_start"], kind="stable", ignore_index=True)
    if fc.empty:
        return fc.reindex(columns=CONSUMPTION_COLUMNS)
    day = (fc["week_start"].to_numpy().astype("datetime64[D]").astype(np.int64)).tolist()
    weeks = np.array(sorted(set(day)), dtype=np.int64)
    week_idx = {d: k for k, d in enumerate(weeks.tolist())}
    key = [(sku, week_idx[d]) for sku, d in zip(fc.sku, day)]
    left = dict(zip(key, fc.forecast_units.clip(lower=0.0).to_numpy(float).tolist()))
    consumed = dict.fromkeys(key, 0.0)
    booked = dict.fromkeys(key, 0.0)
    found = dict.fromkeys(key, 0.0)
    lines = dict.fromkeys(key, 0)

    o = orders.copy()
    o["demand_date"] = pd.to_datetime(o["demand_date"])
    o = o.sort_values(["demand_date", "order_id", "line"], kind="stable")
    due = o["demand_date"].to_numpy().astype("datetime64[D]").astype(np.int64).tolist()
    for sku, d, units in zip(o["sku"].tolist(), due, o["open_units"].astype(float).tolist()):
        own_day = d - (d + 3) % 7
        own = (sku, week_idx.get(own_day, -1))
        if own not in booked:  # due outside the forecast's weeks, or a SKU without forecast
            continue
        booked[own] += units
        lines[own] += 1
        need = units
        for k in _window(d, weeks, backward_days, forward_days):
            if need <= 0:
                break
            cell = (sku, k)
            take = min(need, left.get(cell, 0.0))
            if take > 0:
                left[cell] -= take
                consumed[cell] += take
                found[own] += take
                need -= take

    out = fc.copy()
    out["booked_units"] = [booked[k] for k in key]
    out["consumed_units"] = [consumed[k] for k in key]
    out["remaining_units"] = [left[k] for k in key]
    out["booked_consumed_units"] = [found[k] for k in key]
    out["unconsumed_units"] = out["booked_units"] - out["booked_consumed_units"]
    planned = out["remaining_units"] + out["booked_units"]
    # where the week's orders fitted in its own forecast, remaining + booked is the forecast: keep it
    # bit for bit (no float noise in the plan where consumption changed nothing)
    same = (planned - out["forecast_units"]).abs() <= 1e-9 * out["forecast_units"].abs().clip(lower=1.0)
    out["planned_demand_units"] = planned.where(~same, out["forecast_units"])
    out["booked_lines"] = [lines[k] for k in key]
    return out[CONSUMPTION_COLUMNS]


def consumption_breaks(c: pd.DataFrame, tol: float = 1e-6) -> list[str]:
    """The identities the consumption mart must satisfy (empty list = all hold), one text per
    SKU-week (or SKU) that breaks one: consumed <= forecast, consumed <= booked (per SKU over the
    horizon, and each week's booked_consumed <= booked), remaining + consumed = forecast, planned
    demand = remaining + booked, planned >= booked, nothing negative."""

    def rows(mask: pd.Series, what: str) -> list[str]:
        return [f"{r.sku} {pd.Timestamp(r.week_start).date()}: {what}" for r in c[mask].itertuples()]

    fc = c.forecast_units.clip(lower=0.0)
    out = rows(c.consumed_units > fc + tol, "consumed > forecast")
    out += rows(c.booked_consumed_units > c.booked_units + tol, "consumed bookings > booked")
    out += rows((c.remaining_units + c.consumed_units - fc).abs() > tol, "remaining + consumed != forecast")
    out += rows(
        (c.planned_demand_units - (c.remaining_units + c.booked_units)).abs() > tol, "planned != remaining + booked"
    )
    out += rows(c.planned_demand_units < c.booked_units - tol, "planned < booked")
    neg = c[["booked_units", "consumed_units", "remaining_units", "unconsumed_units"]].lt(-tol).any(axis=1)
    out += rows(neg, "negative units")
    by_sku = c.groupby("sku")[["consumed_units", "booked_units", "booked_consumed_units"]].sum()
    for sku, r in by_sku.iterrows():
        if r.consumed_units > r.booked_units + tol or abs(r.consumed_units - r.booked_consumed_units) > tol:
            out.append(f"{sku}: consumed over the horizon != bookings that found forecast, or > booked")
    return out
