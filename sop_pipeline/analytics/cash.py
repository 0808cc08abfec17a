"""Working capital: DSO, DPO, DIO, cash conversion cycle and the cash the plan ties up.

Formulas (KPI_DEFINITIONS.md, "Cash"); money in one currency, time in calendar days:

* **Open AR at date d** = sum of ``amount`` over invoices with ``doc_date <= d`` and
  (``paid_date`` empty or ``paid_date > d``). Open AP likewise on supplier invoices. A payment
  dated after the as-of date is unknown at as-of, so the invoice counts as open (no look-ahead).
* **DSO** = AR(d) / revenue of the ``days`` days ending on d (inclusive) x ``days``.
* **DPO** = AP(d) / COGS of the ``days`` days ending on d x ``days``.
* **Inventory turns** = COGS of the 365 days ending on d / average inventory value at cost over
  the same 365 days; the average is time-weighted: each day carries the latest inventory
  snapshot on or before it (days before the first snapshot are left out).
  **DIO** = 365 / turns = 365 x average inventory / COGS of 12 months.
* **Cash conversion cycle (days)** = DIO + DSO - DPO.
* **Working capital** = AR + inventory (at d, latest snapshot) - AP;
  **cash tied up** between two dates = delta AR + delta inventory - delta AP (positive = cash
  absorbed by the business, negative = cash released).

Inventory turns as a monthly KPI, expedite $ and scrap % live in the dbt marts (SQL), not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

import numpy as np
import pandas as pd

from sop_pipeline.analytics.columns import require_columns

WORKING_CAPITAL_COLUMNS = [
    "point",
    "date",
    "ar_value",
    "ap_value",
    "inventory_value",
    "revenue_period",
    "cogs_period",
    "cogs_12m",
    "avg_inventory_12m",
    "inventory_turns",
    "dso_days",
    "dpo_days",
    "dio_days",
    "ccc_days",
    "working_capital",
    "cash_tied_up",
]
PROJECTION_COLUMNS = [
    "week_start",
    "revenue",
    "cogs",
    "ar_value",
    "ap_value",
    "inventory_value",
    "working_capital",
    "cash_tied_up",
    "cumulative_cash_tied_up",
    "dso_days",
    "dpo_days",
    "dio_days",
    "ccc_days",
]
DAYS_PER_YEAR = 365


def _day(value: date | datetime | str | pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def _daily_totals(frame: pd.DataFrame, value_col: str, what: str) -> pd.Series:
    """Sum of ``value_col`` per calendar day (index: normalized Timestamp, sorted)."""
    require_columns(frame, ["date", value_col], what)
    days = pd.to_datetime(frame["date"]).dt.normalize()
    values = pd.to_numeric(frame[value_col]).fillna(0.0).astype(float)
    return values.groupby(days.to_numpy()).sum().sort_index()


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator not in (0, 0.0) and np.isfinite(denominator) else float("nan")


def open_balance(items: pd.DataFrame, on: date) -> float:
    """Open amount (currency) of AR or AP invoices at the end of day ``on``.

    An invoice is open when ``doc_date <= on`` and (``paid_date`` is empty or ``paid_date > on``).
    ``items``: ``[doc_date, amount, paid_date]`` (extra columns ignored; credit notes are negative
    amounts and simply net).
    """
    require_columns(items, ["doc_date", "amount", "paid_date"], "invoice list")
    day = _day(on)
    doc = pd.to_datetime(items["doc_date"]).dt.normalize()
    paid = pd.to_datetime(items["paid_date"]).dt.normalize()
    is_open = (doc <= day) & (paid.isna() | (paid > day))
    return float(pd.to_numeric(items["amount"]).fillna(0.0)[is_open].sum())


def _period_sum(daily: pd.Series, end: pd.Timestamp, days: int) -> float:
    """Sum over the ``days`` calendar days ending on ``end`` (inclusive)."""
    start = end - pd.Timedelta(days=days - 1)
    return float(daily[(daily.index >= start) & (daily.index <= end)].sum())


def _inventory_at(snapshots: pd.Series, on: pd.Timestamp) -> float:
    known = snapshots[snapshots.index <= on]
    return float(known.iloc[-1]) if len(known) else float("nan")


def _average_inventory(snapshots: pd.Series, end: pd.Timestamp, days: int = DAYS_PER_YEAR) -> float:
    """Time-weighted average inventory over the ``days`` days ending on ``end`` (step function)."""
    calendar = pd.date_range(end - pd.Timedelta(days=days - 1), end, freq="D")
    daily = snapshots.reindex(snapshots.index.union(calendar)).ffill().reindex(calendar)
    return float(daily.mean()) if daily.notna().any() else float("nan")


def _metrics_at(
    day: pd.Timestamp,
    ar_items: pd.DataFrame,
    ap_items: pd.DataFrame,
    inventory: pd.Series,
    revenue: pd.Series,
    cogs: pd.Series,
    days: int,
) -> dict[str, float]:
    ar, ap = open_balance(ar_items, day), open_balance(ap_items, day)
    inventory_value = _inventory_at(inventory, day)
    revenue_period, cogs_period = _period_sum(revenue, day, days), _period_sum(cogs, day, days)
    cogs_12m = _period_sum(cogs, day, DAYS_PER_YEAR)
    avg_inventory = _average_inventory(inventory, day)
    turns = _ratio(cogs_12m, avg_inventory)
    dso, dpo = _ratio(ar, revenue_period) * days, _ratio(ap, cogs_period) * days
    dio = _ratio(DAYS_PER_YEAR, turns)
    return {
        "date": day.date(),
        "ar_value": ar,
        "ap_value": ap,
        "inventory_value": inventory_value,
        "revenue_period": revenue_period,
        "cogs_period": cogs_period,
        "cogs_12m": cogs_12m,
        "avg_inventory_12m": avg_inventory,
        "inventory_turns": turns,
        "dso_days": dso,
        "dpo_days": dpo,
        "dio_days": dio,
        "ccc_days": dio + dso - dpo,
        "working_capital": ar + inventory_value - ap,
    }


def working_capital(
    ar_items: pd.DataFrame,
    ap_items: pd.DataFrame,
    inventory_value_by_date: pd.DataFrame,
    revenue_by_day: pd.DataFrame,
    cogs_by_day: pd.DataFrame,
    as_of: date,
    days: int = 90,
) -> pd.DataFrame:
    """Working-capital metrics at as-of, one calendar month earlier, and the change.

    Args:
        ar_items: customer invoices ``[doc_date, amount, paid_date]`` (+ doc_id, party_id, due_date).
        ap_items: supplier invoices, same columns.
        inventory_value_by_date: ``[date, inventory_value]`` inventory at cost (currency) per
            snapshot date; several rows per date (locations) are summed.
        revenue_by_day: ``[date, revenue]`` invoiced revenue (currency).
        cogs_by_day: ``[date, cogs]`` cost of goods sold (currency).
        as_of: cycle date; rows dated after it are ignored. The comparison date is as_of minus
            one calendar month (31 Mar -> 28/29 Feb).
        days: DSO/DPO period in days (revenue and COGS of the ``days`` days ending on the date).

    Returns:
        Three rows, ``point`` = ``"as_of"``, ``"prior_month"``, ``"change"`` (as_of minus
        prior_month, dated as_of), columns ``date, ar_value, ap_value, inventory_value,
        revenue_period, cogs_period, cogs_12m, avg_inventory_12m, working_capital`` (currency),
        ``inventory_turns`` (per year), ``dso_days, dpo_days, dio_days, ccc_days`` (days) and
        ``cash_tied_up`` = delta AR + delta inventory - delta AP (currency, on the change row
        only). Ratios are NaN when their denominator is 0 or no inventory snapshot exists.
    """
    if days < 1:
        raise ValueError(f"the DSO/DPO period must be at least 1 day, got {days}")
    as_of_day = _day(as_of)
    prior_day = as_of_day - pd.DateOffset(months=1)
    inventory = _daily_totals(inventory_value_by_date, "inventory_value", "inventory value by date")
    revenue = _daily_totals(revenue_by_day, "revenue", "revenue by day")
    cogs = _daily_totals(cogs_by_day, "cogs", "COGS by day")
    inventory, revenue, cogs = (s[s.index <= as_of_day] for s in (inventory, revenue, cogs))

    now = _metrics_at(as_of_day, ar_items, ap_items, inventory, revenue, cogs, days)
    before = _metrics_at(prior_day, ar_items, ap_items, inventory, revenue, cogs, days)
    change = {k: (now[k] - before[k]) for k in now if k != "date"}
    change["date"] = now["date"]
    change["cash_tied_up"] = (
        (now["ar_value"] - before["ar_value"])
        + (now["inventory_value"] - before["inventory_value"])
        - (now["ap_value"] - before["ap_value"])
    )
    rows = [
        {"point": "as_of", **now, "cash_tied_up": float("nan")},
        {"point": "prior_month", **before, "cash_tied_up": float("nan")},
        {"point": "change", **change},
    ]
    return pd.DataFrame(rows, columns=WORKING_CAPITAL_COLUMNS)


def _trailing_sums(daily_rate: np.ndarray, ends: np.ndarray, window_days: float) -> np.ndarray:
    """Integral of a daily rate over (end - window, end] for fractional windows (linear within a day)."""
    cumulative = np.concatenate([[0.0], np.cumsum(daily_rate)])  # cumulative[i] = sum of days < i
    grid = np.arange(len(cumulative), dtype=float)
    return np.interp(ends, grid, cumulative) - np.interp(ends - window_days, grid, cumulative)


def project_working_capital(
    planned_weekly: pd.DataFrame,
    dso: float,
    dpo: float,
    history_weekly: pd.DataFrame | None = None,
    opening: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Working capital over the plan horizon with DSO and DPO held constant.

    Holding DSO constant means the receivables at the end of a week are the revenue invoiced in
    the last ``dso`` days: AR_t = sum of daily revenue over (end_t - dso, end_t], where end_t is the
    end of week t's Sunday and a week's revenue is spread evenly over its 7 days (fractional days
    pro rata). Likewise AP_t = COGS of the last ``dpo`` days. Inventory_t = the planned inventory
    value at the end of week t. Days of the trailing window before the first planned week take
    ``history_weekly`` actuals when given, else the first planned week's daily rate (flat).

    Args:
        planned_weekly: ``[week_start, revenue, cogs, inventory_value]`` per plan week (Monday;
            currency; inventory at cost at week end).
        dso: days sales outstanding to hold (days, e.g. the as-of value from `working_capital`).
        dpo: days payables outstanding to hold (days).
        history_weekly: optional actual ``[week_start, revenue, cogs]`` before the plan.
        opening: optional as-of balances ``{ar_value, ap_value, inventory_value}`` (currency);
            with it the first week's cash_tied_up is measured against them.

    Returns:
        One row per plan week: ``week_start, revenue, cogs, ar_value, ap_value, inventory_value,
        working_capital`` (AR + inventory - AP), ``cash_tied_up`` (change in working capital vs the
        previous week, + = cash absorbed; NaN in week 1 without ``opening``),
        ``cumulative_cash_tied_up`` (currency), ``dso_days, dpo_days`` (the held values),
        ``dio_days`` = inventory / (week's COGS / 7), i.e. days of planned COGS the inventory covers
        (DIO = 365 / turns at the week's COGS rate), and ``ccc_days`` = DIO + DSO - DPO.
    """
    require_columns(planned_weekly, ["week_start", "revenue", "cogs", "inventory_value"], "planned weekly figures")
    if not (np.isfinite(dso) and np.isfinite(dpo)) or dso < 0 or dpo < 0:
        raise ValueError(f"DSO and DPO must be finite and >= 0 days, got DSO={dso}, DPO={dpo}")
    plan = planned_weekly.copy()
    plan["week_start"] = pd.to_datetime(plan["week_start"]).dt.normalize()
    for col in ("revenue", "cogs", "inventory_value"):
        plan[col] = pd.to_numeric(plan[col]).astype(float)
    plan = plan.groupby("week_start", as_index=False)[["revenue", "cogs", "inventory_value"]].sum()
    if plan.empty:
        return pd.DataFrame(columns=PROJECTION_COLUMNS)

    first, last = plan["week_start"].iloc[0], plan["week_start"].iloc[-1]
    lead_days = int(np.ceil(max(dso, dpo))) + 7
    origin = first - pd.Timedelta(days=lead_days)
    n_days = (last - origin).days + 7
    day_index = lambda ts: (pd.DatetimeIndex(ts) - origin).days.to_numpy()  # noqa: E731

    rates = {}
    for col in ("revenue", "cogs"):
        rate = np.full(n_days, np.nan)
        rate[:lead_days] = plan[col].iloc[0] / 7.0  # flat extrapolation before the plan
        if history_weekly is not None:
            require_columns(history_weekly, ["week_start", col], "history weekly figures")
            hist = history_weekly.assign(week_start=pd.to_datetime(history_weekly["week_start"]).dt.normalize())
            hist = hist[hist["week_start"] < first].groupby("week_start")[col].sum()
            for start, value in zip(day_index(hist.index), hist.to_numpy(float)):
                lo, hi = max(start, 0), min(start + 7, lead_days)
                if lo < hi:
                    rate[lo:hi] = value / 7.0
        rate[lead_days:] = 0.0
        for start, value in zip(day_index(plan["week_start"]), plan[col].to_numpy(float)):
            rate[start : start + 7] = value / 7.0
        rates[col] = rate

    ends = day_index(plan["week_start"]) + 7.0
    out = plan.copy()
    out["ar_value"] = _trailing_sums(rates["revenue"], ends, float(dso))
    out["ap_value"] = _trailing_sums(rates["cogs"], ends, float(dpo))
    out["working_capital"] = out["ar_value"] + out["inventory_value"] - out["ap_value"]
    previous = out["working_capital"].shift(1)
    if opening is not None:
        previous.iloc[0] = float(opening["ar_value"]) + float(opening["inventory_value"]) - float(opening["ap_value"])
    out["cash_tied_up"] = out["working_capital"] - previous
    out["cumulative_cash_tied_up"] = out["cash_tied_up"].cumsum()
    out["dso_days"], out["dpo_days"] = float(dso), float(dpo)
    out["dio_days"] = (out["inventory_value"] / (out["cogs"] / 7.0)).where(out["cogs"] > 0)
    out["ccc_days"] = out["dio_days"] + out["dso_days"] - out["dpo_days"]
    out["week_start"] = out["week_start"].dt.date
    return out[PROJECTION_COLUMNS]
