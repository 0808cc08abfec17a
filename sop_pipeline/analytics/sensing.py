"""Demand sensing: adjust the first weeks of the statistical forecast with short-term signals.

The baseline is the statistical forecast (``forecasting``), which already uses known
promotions and seasonality as model features; sensing adds what the model cannot see and
records, per SKU x week, baseline vs sensed units and why.

Signals (weeks 0..``window_weeks``, default 6)
    * **Booked B2B orders.** Orders booked so far for a week are a floor of its B2B demand, and
      history says what share of a week's B2B units is usually booked that many days ahead
      (the *booking curve*, pooled over SKUs from the last ``curve_weeks`` complete weeks:
      share of ordered units with order_date <= week start - the same days ahead). Sensed B2B
      = booked + (1 - usual booked share) x baseline B2B: "orders in hand plus the part of the
      forecast that is still to be ordered". Demand is counted by requested week, as in
      int_demand_weekly.
    * **Week-0 nowcast** (as-of mid-week only). POS of the days of the current week so far,
      plus the baseline for the remaining days (weekday profile of each family's last 13 weeks
      of POS). The SKU's pace (sold so far / expected so far) also nudges weeks 1 and 2 (half
      and a quarter of the deviation, scaled by the share of the week seen, capped at
      +-``max_pace_adjustment``).
    * **Promotions and seasonality** are already in the baseline: sensing names them in the
      reason so the meeting sees them, without counting them twice.

A missing signal (extract absent, or no partial week because the as-of is a Sunday) is named
in ``signals_missing``; the baseline then passes through unchanged for that signal.
Units: the item's base unit per ISO week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from sop_pipeline.analytics.calendar import Cycle

SENSING_COLUMNS = [
    "sku",
    "family",
    "week_start",
    "horizon_week",
    "baseline_units",
    "sensed_units",
    "delta_units",
    "delta_pct",
    "b2b_baseline_units",
    "b2b_booked_units",
    "b2b_usual_booked_share",
    "week0_pos_units",
    "signals_used",
    "signals_missing",
    "reason",
]


@dataclass(frozen=True)
class SensingConfig:
    window_weeks: int = 6
    curve_weeks: int = 26
    max_pace_adjustment: float = 0.3
    min_curve_units: float = 1.0


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 10 else f"{x:,.1f}"


def booking_curve(
    orders: pd.DataFrame | None,
    as_of: date,
    days_ahead: list[int],
    curve_weeks: int = 26,
    live: pd.DataFrame | None = None,
) -> pd.Series:
    """Usual share of a week's B2B units already booked ``days_ahead`` days before the week starts.

    Measured on the last ``curve_weeks`` complete weeks before the as-of (orders by requested
    week, not cancelled). Negative days_ahead = days into the week (week 0). Index: days_ahead.
    ``live``: ``live_orders(orders)`` prepared once when the curve is drawn at many as-of dates
    (``orders`` is then not read).
    """
    return _curve(_live_orders(orders, as_of, live), as_of, days_ahead, curve_weeks)


def _curve(o: pd.DataFrame, as_of: date, days_ahead: list[int], curve_weeks: int) -> pd.Series:
    """``booking_curve`` from the live order lines up to the as-of (``_live_orders``)."""
    if o.empty:
        return pd.Series(np.nan, index=days_ahead, dtype=float)
    last = pd.Timestamp(
        Cycle(as_of).week0_start if as_of.weekday() == 6 else Cycle(as_of).week0_start - timedelta(weeks=1)
    )
    recent = o[(o.requested_week_start <= last) & (o.requested_week_start > last - pd.Timedelta(weeks=curve_weeks))]
    total = recent.qty.sum()
    if total <= 0:
        return pd.Series(np.nan, index=days_ahead, dtype=float)
    lead = (recent.requested_week_start - recent.order_date).dt.days.to_numpy()
    qty = recent.qty.to_numpy()
    return pd.Series([qty[lead >= d].sum() / total for d in days_ahead], index=days_ahead, dtype=float)


def live_orders(orders: pd.DataFrame | None) -> pd.DataFrame:
    """The order lines sensing counts, at any as-of: not cancelled, with an order date and a requested
    week, dates parsed (``sku, order_date, requested_week_start, qty``). Those dated on or before an
    as-of, in the same order, are ``_live_orders(orders, as_of)``: the backtest prepares them once for
    all its origins."""
    if orders is None or orders.empty:
        return pd.DataFrame(columns=["sku", "order_date", "requested_week_start", "qty"])
    o = orders[(orders["status"] != "cancelled")].dropna(subset=["requested_week_start", "order_date"])
    o = o.assign(
        order_date=pd.to_datetime(o["order_date"]), requested_week_start=pd.to_datetime(o["requested_week_start"])
    )
    return o[["sku", "order_date", "requested_week_start", "qty"]]


def _live_orders(orders: pd.DataFrame | None, as_of: date, live: pd.DataFrame | None = None) -> pd.DataFrame:
    o = live_orders(orders) if live is None else live
    return o[o.order_date <= pd.Timestamp(as_of)] if len(o) else o


def weekday_share(pos_daily: pd.DataFrame, as_of: date, weeks: int = 13) -> pd.Series:
    """Per family: share of a week's POS units sold Monday..as-of weekday (last ``weeks`` complete weeks)."""
    if pos_daily is None or pos_daily.empty:
        return pd.Series(dtype=float)
    d = pos_daily.assign(sales_date=pd.to_datetime(pos_daily["sales_date"]))
    w0 = pd.Timestamp(Cycle(as_of).week0_start)
    d = d[(d.sales_date < w0) & (d.sales_date >= w0 - pd.Timedelta(weeks=weeks))]
    if d.empty:
        return pd.Series(dtype=float)
    wd = d.sales_date.dt.day_of_week
    upto = d[wd <= as_of.weekday()].groupby("family")["units"].sum()
    total = d.groupby("family")["units"].sum()
    return (upto / total).fillna((as_of.weekday() + 1) / 7)


def sense(
    baseline: pd.DataFrame,
    as_of: date,
    orders: pd.DataFrame | None = None,
    pos_week0: pd.DataFrame | None = None,
    pos_history_daily: pd.DataFrame | None = None,
    promotions: pd.DataFrame | None = None,
    config: SensingConfig = SensingConfig(),
) -> pd.DataFrame:
    """Sensed units for horizon weeks 0..window per SKU (see module docstring).

    baseline: location-level forecast (sku, location, channel, family, week_start, horizon_week,
      units_p50[, season_ratio]); week 0 rows only when the as-of is mid-week.
    orders: sales order lines (sku, order_date, requested_week_start, qty, status) or None when
      the extract is absent. Only orders dated on or before the as-of count.
    pos_week0: POS rows of the current partial week (sku, location, family, sales_date, units),
      None when there are none.
    pos_history_daily: daily POS by family for the weekday profile (family, sales_date, units).
    promotions: promotion rows (promo_id, sku, location_or_customer, start_date, end_date,
      discount_pct), None when absent - used in the reasons only.
    """
    cfg = config
    base = baseline[baseline.horizon_week <= cfg.window_weeks].copy()
    base["week_start"] = pd.to_datetime(base["week_start"])
    if base.empty:
        return pd.DataFrame(columns=SENSING_COLUMNS)
    is_b2b = base.channel.eq("b2b")
    sku = base.groupby(["sku", "family", "week_start", "horizon_week"], as_index=False, observed=True).agg(
        baseline_units=("units_p50", "sum")
    )
    b2b = base[is_b2b].groupby(["sku", "week_start"])["units_p50"].sum().rename("b2b_baseline_units")
    sku = sku.merge(b2b, on=["sku", "week_start"], how="left")
    sku["b2b_baseline_units"] = sku.b2b_baseline_units.fillna(0.0)
    if "season_ratio" in base:
        season = base.groupby(["sku", "week_start"])["season_ratio"].mean().rename("season_ratio")
        sku = sku.merge(season, on=["sku", "week_start"], how="left")
    else:
        sku["season_ratio"] = np.nan
    sku["sensed_units"] = sku.baseline_units
    sku["b2b_booked_units"] = np.nan
    sku["b2b_usual_booked_share"] = np.nan
    sku["week0_pos_units"] = np.nan
    notes: list[list[str]] = [[] for _ in range(len(sku))]
    missing: list[str] = []
    used: list[str] = []

    # ---- booked B2B orders
    if orders is None:
        missing.append("open orders (sales_orders extract absent)")
    else:
        o = _live_orders(orders, as_of)
        if o.empty:
            missing.append("open orders (no order lines up to the as-of)")
        else:
            used.append("booked orders")
            weeks = sorted(sku.week_start.unique())
            days = [int((pd.Timestamp(w) - pd.Timestamp(as_of)).days) for w in weeks]
            curve = _curve(o, as_of, days, cfg.curve_weeks)
            share = dict(zip(weeks, curve.to_numpy()))
            booked = o[o.requested_week_start.isin(weeks)].groupby(["sku", "requested_week_start"])["qty"].sum()
            key = pd.MultiIndex.from_arrays([sku.sku, sku.week_start])
            bk = booked.reindex(key).fillna(0.0).to_numpy()
            sh = np.array([share.get(w, np.nan) for w in sku.week_start])
            sh = np.nan_to_num(sh, nan=0.0)
            b2b_base = sku.b2b_baseline_units.to_numpy()
            sensed_b2b = bk + (1 - sh) * b2b_base
            relevant = (bk > 0) | (b2b_base > 0)
            sku["b2b_booked_units"] = np.where(relevant, bk, np.nan)
            sku["b2b_usual_booked_share"] = np.where(relevant, sh, np.nan)
            sku["sensed_units"] = sku.sensed_units + np.where(relevant, sensed_b2b - b2b_base, 0.0)
            for k in np.flatnonzero(relevant):
                notes[k].append(
                    f"B2B: {_fmt(bk[k])} units already booked for this week; usually {sh[k]:.0%} of a week's B2B "
                    f"units are booked by now, so B2B = {_fmt(bk[k])} + {1 - sh[k]:.0%} x {_fmt(b2b_base[k])} "
                    f"baseline = {_fmt(sensed_b2b[k])} ({sensed_b2b[k] - b2b_base[k]:+,.0f})."
                )

    # ---- week-0 nowcast and pace
    if as_of.weekday() == 6:
        missing.append("week-0 POS (as-of is a Sunday: no partial week to nowcast)")
    elif pos_week0 is None or pos_week0.empty:
        missing.append("week-0 POS (no POS rows yet in the current week)")
    else:
        used.append("week-0 POS")
        _nowcast(sku, base[~is_b2b], pos_week0, pos_history_daily, as_of, cfg, notes)

    # ---- promotions and seasonality (in the baseline already)
    if promotions is None:
        missing.append("promotions (promotions extract absent)")
    else:
        used.append("promotions (in baseline)")
        promo_text = _promo_notes(promotions, sku[["sku", "week_start"]])
        for k, text in enumerate(promo_text):
            if text:
                notes[k].append(text)
    used.append("seasonality (in baseline)")
    for k, r in enumerate(sku.season_ratio.to_numpy()):
        if np.isfinite(r) and abs(r - 1) >= 0.05:
            notes[k].append(
                f"Seasonality: the family's season index is {r - 1:+.0%} vs the last 13 weeks (in the baseline)."
            )

    sku["sensed_units"] = sku.sensed_units.clip(lower=0.0)
    sku["delta_units"] = sku.sensed_units - sku.baseline_units
    with np.errstate(divide="ignore", invalid="ignore"):
        sku["delta_pct"] = np.where(sku.baseline_units > 0, sku.delta_units / sku.baseline_units, np.nan)
    sku["signals_used"] = ", ".join(used) or "none"
    sku["signals_missing"] = ", ".join(missing) or "none"
    miss_note = f" Missing signals: {'; '.join(missing)}." if missing else ""
    sku["reason"] = [
        (" ".join(n) if n else "No short-term signal changed this week: sensed = baseline.") + miss_note for n in notes
    ]
    return sku[SENSING_COLUMNS].sort_values(["sku", "week_start"]).reset_index(drop=True)


def sensed_units(
    baseline: pd.DataFrame,
    sku_weeks: pd.DataFrame,
    as_of: date,
    live: pd.DataFrame | None,
    config: SensingConfig = SensingConfig(),
) -> np.ndarray:
    """``sense(baseline, as_of, orders=orders, config=config)``'s ``sensed_units`` at the rows of
    ``sku_weeks``, without the reasons: the backtest's sensed forecast at every origin.

    sku_weeks: ``sku``, ``week_start``, ``horizon_week`` and ``baseline_units`` - the SKU's sum of
    baseline's units_p50 over its series, grouped as ``sense`` groups it (sku, family, week_start,
    horizon_week), so the numbers are the same to the bit. live: ``live_orders(orders)``, prepared
    once (None: the extract is absent). Only booked orders are replayed (no week-0 POS). NaN
    outside the sensing window."""
    cfg = config
    out = np.full(len(sku_weeks), np.nan)
    inside = sku_weeks["horizon_week"].to_numpy() <= cfg.window_weeks
    if not inside.any():
        return out
    sub = sku_weeks[inside]
    sensed = sub["baseline_units"].to_numpy(dtype=float)
    o = _live_orders(None, as_of, live) if live is not None else None
    if o is not None and len(o):
        base = baseline[baseline.horizon_week <= cfg.window_weeks]
        b2b = base[base.channel.eq("b2b")].groupby(["sku", "week_start"])["units_p50"].sum()
        key = pd.MultiIndex.from_arrays([sub["sku"], sub["week_start"]])
        b2b_base = b2b.reindex(key).fillna(0.0).to_numpy()
        weeks = sorted(sub["week_start"].unique())
        days = [int((pd.Timestamp(w) - pd.Timestamp(as_of)).days) for w in weeks]
        share = pd.Series(_curve(o, as_of, days, cfg.curve_weeks).to_numpy(), index=pd.Index(weeks), dtype=float)
        booked = o[o.requested_week_start.isin(weeks)].groupby(["sku", "requested_week_start"])["qty"].sum()
        bk = booked.reindex(key).fillna(0.0).to_numpy()
        sh = np.nan_to_num(share.reindex(sub["week_start"]).to_numpy(dtype=float), nan=0.0)
        sensed_b2b = bk + (1 - sh) * b2b_base
        relevant = (bk > 0) | (b2b_base > 0)
        sensed = sensed + np.where(relevant, sensed_b2b - b2b_base, 0.0)
    out[inside] = np.where(sensed < 0.0, 0.0, sensed)  # sense's clip(lower=0)
    return out


def _nowcast(
    sku: pd.DataFrame,
    store_base: pd.DataFrame,
    pos_week0: pd.DataFrame,
    pos_history_daily: pd.DataFrame | None,
    as_of: date,
    cfg: SensingConfig,
    notes: list[list[str]],
) -> None:
    """Week 0 = sold so far + baseline for the remaining days; weeks 1-2 follow the pace. In place."""
    default = (as_of.weekday() + 1) / 7
    frac = weekday_share(pos_history_daily, as_of) if pos_history_daily is not None else pd.Series(dtype=float)
    f = sku.family.map(frac).fillna(default).to_numpy()
    sold = sku.sku.map(pos_week0.groupby("sku")["units"].sum()).fillna(0.0).to_numpy()
    sb = store_base.groupby(["sku", "horizon_week"])["units_p50"].sum()
    b_week = sb.reindex(pd.MultiIndex.from_arrays([sku.sku, sku.horizon_week])).fillna(0.0).to_numpy()
    b0 = sb.reindex(pd.MultiIndex.from_arrays([sku.sku, np.zeros(len(sku), dtype=int)])).fillna(0.0).to_numpy()
    hw = sku.horizon_week.to_numpy()
    expected_so_far = f * b0
    delta = np.zeros(len(sku))
    week0 = hw == 0
    nowcast = sold + (1 - f) * b0
    delta[week0] = (nowcast - b0)[week0]
    with np.errstate(divide="ignore", invalid="ignore"):
        pace = np.clip(sold / expected_so_far - 1, -cfg.max_pace_adjustment, cfg.max_pace_adjustment)
    weight = np.where(hw == 1, 0.5, np.where(hw == 2, 0.25, 0.0)) * f
    paced = (hw >= 1) & (hw <= 2) & (expected_so_far >= cfg.min_curve_units)
    delta[paced] = (b_week * pace * weight)[paced]
    sku["sensed_units"] = sku.sensed_units.to_numpy() + delta
    sku.loc[week0, "week0_pos_units"] = sold[week0]
    for k in np.flatnonzero(week0):
        notes[k].append(
            f"Week 0: {_fmt(sold[k])} units sold through {as_of:%a %d %b} (usually {f[k]:.0%} of a "
            f"week) + baseline for the remaining days = {_fmt(nowcast[k])} store units "
            f"({delta[k]:+,.0f})."
        )
    for k in np.flatnonzero(paced & (np.abs(delta) >= 0.5)):
        notes[k].append(
            f"Pace: week 0 is running {pace[k]:+.0%} vs baseline so far; {weight[k]:.0%} of that "
            f"is carried into this week ({delta[k]:+,.0f} units)."
        )


def _promo_notes(promotions: pd.DataFrame, keys: pd.DataFrame) -> list[str]:
    """One sentence per SKU-week naming the promotions that cover it ('' when none)."""
    p = promotions.dropna(subset=["start_date", "end_date", "sku"])
    if p.empty or keys.empty:
        return [""] * len(keys)
    start = pd.to_datetime(p.start_date)
    first = start - pd.to_timedelta(start.dt.day_of_week, unit="D")
    n = ((pd.to_datetime(p.end_date) - first).dt.days // 7 + 1).clip(lower=0).to_numpy()
    rows = np.repeat(np.arange(len(p)), n)
    offs = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    ex = pd.DataFrame(
        {
            "sku": p.sku.to_numpy()[rows],
            "week_start": first.to_numpy()[rows] + (7 * offs).astype("timedelta64[D]"),
            "text": [
                f"{i} ({d:.0%} off, {t})"
                for i, d, t in zip(
                    p.promo_id.to_numpy()[rows],
                    p.discount_pct.fillna(0).to_numpy()[rows],
                    p.location_or_customer.fillna("ALL").to_numpy()[rows],
                )
            ],
        }
    )
    ex["week_start"] = pd.to_datetime(ex.week_start)
    ex = ex.merge(keys.drop_duplicates(), on=["sku", "week_start"], how="inner")
    joined = ex.groupby(["sku", "week_start"])["text"].agg(lambda t: ", ".join(sorted(set(t))))
    got = joined.reindex(pd.MultiIndex.from_arrays([keys.sku, pd.to_datetime(keys.week_start)]))
    return [
        f"Promotion {t} this week: its uplift is already in the baseline." if isinstance(t, str) else ""
        for t in got.to_numpy()
    ]
