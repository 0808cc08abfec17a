"""Risk signals for the S&OP risk board: supplier, route and asset early warnings.

Every detector works *as of* a date: rows dated after it are ignored (a receipt after as-of is
treated as not received yet), so a backtest at an earlier as-of sees exactly what was known then.

Detectors (settings in `RiskSettings`):

* **Supplier lead-time drift.** Lead time = receipt_date - order_date (days) of each received PO
  line; lateness = receipt_date - promised_date. Lines are grouped by the ISO week of receipt
  (the week the lead time became known) and averaged per week. Baseline = the weeks from
  ``lookback_weeks`` (104) back up to the start of the monitoring window; monitoring = the last
  ``monitor_weeks`` (26) weeks up to as-of (current partial week included). Baseline mean mu =
  line-weighted mean lead time; baseline sd sigma = sqrt(sum n_w (mean_w - mu)^2 / (W - 1)) over
  the W baseline weeks with n_w lines (the per-line sd, estimated from weekly means so that lines
  shipped together are not counted as independent evidence). A monitored week with n lines is
  standardized as z = (week mean - mu) / max(sigma / sqrt(n), ``min_sd_days`` = 1 day), capped at
  +/- ``z_cap`` = 4 (one freak week cannot raise the alarm alone), and fed to a one-sided upper
  CUSUM S_t = max(0, S_(t-1) + z_t - k), k = 0.5 sd, alarm when S_t > h = 5 sd (in-control average
  run length ~465 weeks: about a 5% chance of a false alarm per supplier in a 26-week window,
  which is what seeded simulations show too). The alarm date is the last receipt date of the week
  whose mean pushed S over h. An EWMA (lambda = 0.2, started at mu) of the weekly means gives the
  current lead-time level; shift_days = EWMA - mu. A drift signal is raised for every supplier
  whose CUSUM crossed h inside the monitoring window; once lead times are back to normal S decays
  and so does the signal's probability.
* **Supplier OTIF decline.** OTIF (KPI_DEFINITIONS.md) per PO line: received in full
  (qty_received >= qty_ordered) on or before the promised date; lines are counted by their
  promised date, and a line past its promised date with nothing (or not all) received by
  as-of counts as a miss. Recent = lines promised in the last ``window_weeks`` (8) weeks; baseline
  = lines promised in the ``baseline_weeks`` (52) before that. Flagged when the decline is at
  least ``min_decline`` (10 points), the one-sided two-proportion z >= ``z_min`` (2) and the recent
  window has >= ``min_lines`` (5) lines.
* **Route delays.** Same windows per route (suppliers.route); a line is late when its last receipt
  came after the promised date or nothing was received by a promised date before as-of (timing
  only: quantity shortfalls are the supplier's OTIF). Flagged like OTIF (late-share increase).
* **Asset unplanned downtime.** Unplanned (planned = false) downtime hours per resource and full
  ISO week (events split across weeks by overlap, open events end at as-of, weeks without events
  are 0 h) over ``downtime_lookback_weeks`` (52). Recent = last ``recent_weeks`` (13) weeks, prior
  = the weeks before. Trend = least-squares slope (hours/week per week) in each part; CUSUM as
  above on the recent weeks standardized by the prior weeks (sd floored at ``min_sd_hours`` = 1 h).
* **Open risk events.** risk_events rows dated within the last ``event_weeks`` (4) weeks.

Probability, impact and expected impact (heuristics, not calibrated forecasts; say so on the board):

* drift / downtime: probability = logistic(S_now - h), S_now = CUSUM at as-of: 0.5 just at the
  threshold, ~0.9 two sd above it, ~0 once the process is back to normal. OTIF decline:
  1 - recent OTIF (how often a line fails now). Route: recent late share. Event:
  ``event_probability`` (0.8) x 0.5 ** (age in weeks / ``event_half_life_weeks`` = 4).
* impact_value (currency) = forecast revenue of the exposed SKUs (``sku_exposure``: sku -> supplier /
  route / resource, exploded through the BOM to the sold SKU) over an exposure window starting at
  horizon week 1: drift -> the lead-time shift in days; OTIF / route -> the mean days late of the
  recent late lines (at least 7); events -> ``event_exposure_days`` (28). Downtime: share of the
  resource's weekly hours lost to the extra downtime (recent - prior mean hours / hours_per_week)
  x forecast revenue through the resource over the horizon; exposure_days reports the same as
  equivalent days. expected_impact = probability x impact_value.

Root cause (``root_cause``, e.g. "supplier SUP03"): signals that one action fixes share it, so the
board shows the strongest of them and lists the others as supporting evidence. A supplier's drift,
OTIF decline and events share "supplier <id>"; an asset's downtime trend and events share
"asset <id>"; a route used by one supplier only (suppliers.route) is that supplier's root cause
(its delays are that supplier's lead times); a route shared by several suppliers is its own,
"route <id>".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from sop_pipeline.analytics.abc_xyz import window_weeks as full_weeks_ending
from sop_pipeline.analytics.calendar import HORIZON_WEEKS, first_horizon_week, week_start
from sop_pipeline.analytics.columns import require_columns

OWNERS = {"supplier": "Procurement", "route": "Logistics", "asset": "Maintenance"}
SIGNAL_COLUMNS = [
    "signal_id",
    "kind",
    "entity_id",
    "signal",
    "detected_on",
    "probability",
    "impact_value",
    "expected_impact",
    "exposure_days",
    "mitigation",
    "owner",
    "detail",
    "root_cause",
]
BOARD_COLUMNS = ["rank", *SIGNAL_COLUMNS, "supporting"]
PO_LINE_COLUMNS = [
    "supplier_id",
    "po_id",
    "line",
    "order_date",
    "promised_date",
    "receipt_date",
    "qty_ordered",
    "qty_received",
]


@dataclass(frozen=True)
class RiskSettings:
    """Detector settings; defaults are the documented ones (weeks, days, hours, sd units)."""

    lookback_weeks: int = 104  # lead-time history used (baseline + monitoring)
    monitor_weeks: int = 26  # lead-time monitoring window at the end of the lookback
    cusum_k: float = 0.5  # CUSUM allowance (sd)
    cusum_h: float = 5.0  # CUSUM decision threshold (sd)
    z_cap: float = 4.0  # cap on one week's standardized value
    ewma_lambda: float = 0.2
    min_baseline_weeks: int = 8  # weeks with receipts needed to judge a supplier
    min_sd_days: float = 1.0
    window_weeks: int = 8  # OTIF / route recent window
    baseline_weeks: int = 52  # OTIF / route baseline before the recent window
    min_decline: float = 0.10  # OTIF drop / late-share rise that matters (fraction)
    z_min: float = 2.0  # one-sided two-proportion z needed
    min_lines: int = 5  # lines needed in the recent window
    min_exposure_days: float = 7.0
    downtime_lookback_weeks: int = 52
    recent_weeks: int = 13
    min_sd_hours: float = 1.0
    default_hours_per_week: float = 80.0  # when a resource's hours are unknown (2 shifts x 5 days)
    event_weeks: int = 4
    event_exposure_days: float = 28.0
    event_probability: float = 0.8
    event_half_life_weeks: float = 4.0
    horizon_weeks: int = HORIZON_WEEKS


def _day(value: date | datetime | str | pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def _monday(days: pd.Series) -> pd.Series:
    return days - pd.to_timedelta(days.dt.day_of_week, unit="D")


def _as_date(value) -> date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


# --------------------------------------------------------------------------- statistics


def cusum_upper(z: Sequence[float], k: float = 0.5, h: float = 5.0) -> tuple[np.ndarray, int | None]:
    """One-sided upper CUSUM S_t = max(0, S_(t-1) + z_t - k), S_0 = 0.

    Returns the statistic after each observation (sd units) and the index of the first
    observation with S_t > h (None when it never crosses).
    """
    stats = np.zeros(len(z))
    s, first = 0.0, None
    for i, value in enumerate(np.asarray(z, dtype=float)):
        s = max(0.0, s + value - k)
        stats[i] = s
        if first is None and s > h:
            first = i
    return stats, first


def alarm_probability(statistic: float, h: float = 5.0) -> float:
    """Heuristic probability of a real shift: logistic(statistic - h), in [0, 1]."""
    if statistic is None or not np.isfinite(statistic):
        return float("nan")
    return float(1.0 / (1.0 + math.exp(-(statistic - h))))


def _ewma(values: np.ndarray, start: float, lam: float) -> float:
    level = start
    for value in values:
        level = lam * value + (1.0 - lam) * level
    return float(level)


def _slope(values: np.ndarray) -> float:
    """Least-squares slope per step (NaN with fewer than 2 points)."""
    if len(values) < 2:
        return float("nan")
    x = np.arange(len(values), dtype=float)
    return float(np.polyfit(x, np.asarray(values, dtype=float), 1)[0])


def _two_proportion_z(bad_recent: float, n_recent: float, bad_base: float, n_base: float) -> float:
    """One-sided z for 'recent failure share > baseline failure share' (pooled)."""
    if n_recent == 0 or n_base == 0:
        return float("nan")
    pooled = (bad_recent + bad_base) / (n_recent + n_base)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_recent + 1.0 / n_base))
    diff = bad_recent / n_recent - bad_base / n_base
    return 0.0 if se == 0 else float(diff / se)


# --------------------------------------------------------------------------- inputs


def po_lines_as_of(purchase_orders: pd.DataFrame, receipts: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """One row per PO line with what was received by as-of (partial receipts summed).

    Args:
        purchase_orders: ``[po_id, line, supplier_id, sku, order_date, promised_date, qty]``.
        receipts: ``[po_id, line, receipt_date, qty]``.
        as_of: lines ordered and receipts dated after it are ignored.

    Returns:
        ``[supplier_id, sku, po_id, line, order_date, promised_date, receipt_date, qty_ordered,
        qty_received]``: receipt_date = the last receipt on or before as-of (NaT when nothing was
        received), qty_received = units received by as-of.
    """
    require_columns(
        purchase_orders,
        ["po_id", "line", "supplier_id", "sku", "order_date", "promised_date", "qty"],
        "purchase orders",
    )
    require_columns(receipts, ["po_id", "line", "receipt_date", "qty"], "receipts")
    day = _day(as_of)
    pos = purchase_orders.assign(
        order_date=pd.to_datetime(purchase_orders["order_date"]).dt.normalize(),
        promised_date=pd.to_datetime(purchase_orders["promised_date"]).dt.normalize(),
    )
    pos = pos[pos["order_date"] <= day]
    rec = receipts.assign(receipt_date=pd.to_datetime(receipts["receipt_date"]).dt.normalize())
    rec = rec[rec["receipt_date"] <= day]
    received = rec.groupby(["po_id", "line"], as_index=False).agg(
        receipt_date=("receipt_date", "max"), qty_received=("qty", "sum")
    )
    out = pos.rename(columns={"qty": "qty_ordered"}).merge(received, on=["po_id", "line"], how="left")
    out["qty_received"] = out["qty_received"].fillna(0.0)
    return out[
        [
            "supplier_id",
            "sku",
            "po_id",
            "line",
            "order_date",
            "promised_date",
            "receipt_date",
            "qty_ordered",
            "qty_received",
        ]
    ].reset_index(drop=True)


def _prepare_lines(po_lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Parse dates, drop what was unknown at as-of and derive lead time, lateness and OTIF."""
    require_columns(po_lines, PO_LINE_COLUMNS, "PO lines with receipts")
    lines = po_lines.copy()
    for col in ("order_date", "promised_date", "receipt_date"):
        lines[col] = pd.to_datetime(lines[col]).dt.normalize()
    lines = lines[lines["order_date"] <= as_of].copy()
    future = lines["receipt_date"] > as_of
    lines.loc[future, "receipt_date"] = pd.NaT
    lines["qty_ordered"] = pd.to_numeric(lines["qty_ordered"]).astype(float)
    lines["qty_received"] = pd.to_numeric(lines["qty_received"]).fillna(0.0).astype(float).where(~future, 0.0)
    received = lines["receipt_date"].notna()
    lines["lead_time_days"] = (lines["receipt_date"] - lines["order_date"]).dt.days.astype(float)
    lines["lateness_days"] = (lines["receipt_date"] - lines["promised_date"]).dt.days.astype(float)
    lines["due"] = lines["promised_date"].notna() & (lines["promised_date"] <= as_of)
    on_time = received & (lines["receipt_date"] <= lines["promised_date"])
    lines["otif"] = on_time & (lines["qty_received"] >= lines["qty_ordered"] - 1e-9)
    lines["late"] = lines["due"] & ~on_time
    lines["days_late"] = np.clip(
        np.where(received, lines["lateness_days"], (as_of - lines["promised_date"]).dt.days.astype(float)), 0.0, None
    )
    return lines


# --------------------------------------------------------------------------- suppliers


def supplier_lead_time_series(po_lines: pd.DataFrame, as_of: date, lookback_weeks: int = 104) -> pd.DataFrame:
    """Weekly lead time per supplier by receipt week (the week the lead time became known).

    Returns ``[supplier_id, week_start, lines, lead_time_days, lateness_days, last_receipt_date]``:
    lines received that week, their mean lead time and mean lateness (days, + = late), for the
    ``lookback_weeks`` weeks ending with the week of as-of (partial week included).
    """
    day = _day(as_of)
    lines = _prepare_lines(po_lines, day)
    start = pd.Timestamp(week_start(day.date())) - pd.Timedelta(weeks=lookback_weeks - 1)
    got = lines[lines["receipt_date"].notna() & (lines["receipt_date"] >= start)].copy()
    got["week_start"] = _monday(got["receipt_date"])
    series = got.groupby(["supplier_id", "week_start"], as_index=False).agg(
        lines=("lead_time_days", "size"),
        lead_time_days=("lead_time_days", "mean"),
        lateness_days=("lateness_days", "mean"),
        last_receipt_date=("receipt_date", "max"),
    )
    return series.sort_values(["supplier_id", "week_start"]).reset_index(drop=True)


def supplier_lead_time_drift(
    po_lines: pd.DataFrame, as_of: date, settings: RiskSettings = RiskSettings()
) -> pd.DataFrame:
    """Upward lead-time drift per supplier (CUSUM + EWMA on weekly mean lead time).

    Args:
        po_lines: ``[supplier_id, po_id, line, order_date, promised_date, receipt_date,
            qty_ordered, qty_received]``, one row per PO line (see `po_lines_as_of`).
        as_of: rows after it are ignored.
        settings: lookback / monitoring windows and CUSUM parameters.

    Returns:
        One row per supplier: ``supplier_id, status`` ("ok", "alarm", "insufficient history":
        fewer than ``min_baseline_weeks`` baseline weeks with receipts, no judgement made),
        ``baseline_weeks, monitored_weeks`` (weeks with receipts), ``baseline_lead_time_days,
        baseline_sd_days`` (mu and per-line sigma, see module docstring), ``ewma_lead_time_days, shift_days``
        (EWMA - baseline), ``baseline_lateness_days, recent_lateness_days`` (mean lateness,
        recent = last 8 weeks), ``cusum`` (at as-of, sd), ``cusum_max``, ``alarm`` (CUSUM crossed
        h inside the monitoring window) and ``first_alarm_date``.
    """
    s = settings
    day = _day(as_of)
    series = supplier_lead_time_series(po_lines, day, s.lookback_weeks)
    monitor_start = pd.Timestamp(week_start(day.date())) - pd.Timedelta(weeks=s.monitor_weeks - 1)
    recent_start = pd.Timestamp(week_start(day.date())) - pd.Timedelta(weeks=s.window_weeks - 1)
    suppliers = pd.Index(_prepare_lines(po_lines, day)["supplier_id"].dropna().unique()).sort_values()
    rows = []
    for supplier in suppliers:
        weeks = series[series["supplier_id"] == supplier]
        base = weeks[weeks["week_start"] < monitor_start]
        mon = weeks[weeks["week_start"] >= monitor_start]
        row = {
            "supplier_id": supplier,
            "status": "insufficient history",
            "baseline_weeks": len(base),
            "monitored_weeks": len(mon),
            "baseline_lead_time_days": np.nan,
            "baseline_sd_days": np.nan,
            "ewma_lead_time_days": np.nan,
            "shift_days": np.nan,
            "baseline_lateness_days": np.nan,
            "recent_lateness_days": np.nan,
            "cusum": np.nan,
            "cusum_max": np.nan,
            "alarm": False,
            "first_alarm_date": None,
        }
        if len(base) >= s.min_baseline_weeks:
            n_base = base["lines"].to_numpy(float)
            mu = float(np.average(base["lead_time_days"], weights=n_base))
            sd = float(np.sqrt(np.sum(n_base * (base["lead_time_days"].to_numpy(float) - mu) ** 2) / (len(base) - 1)))
            week_sd = np.maximum(sd / np.sqrt(mon["lines"].to_numpy(float)), s.min_sd_days)
            z = np.clip((mon["lead_time_days"].to_numpy(float) - mu) / week_sd, -s.z_cap, s.z_cap)
            stats, first = cusum_upper(z, s.cusum_k, s.cusum_h)
            ewma = _ewma(mon["lead_time_days"].to_numpy(float), mu, s.ewma_lambda)
            recent = weeks[weeks["week_start"] >= recent_start]
            row.update(
                {
                    "status": "alarm" if first is not None else "ok",
                    "baseline_lead_time_days": mu,
                    "baseline_sd_days": sd,
                    "ewma_lead_time_days": ewma,
                    "shift_days": ewma - mu,
                    "baseline_lateness_days": float(np.average(base["lateness_days"], weights=n_base)),
                    "recent_lateness_days": (
                        float(np.average(recent["lateness_days"], weights=recent["lines"])) if len(recent) else np.nan
                    ),
                    "cusum": float(stats[-1]) if len(stats) else 0.0,
                    "cusum_max": float(stats.max()) if len(stats) else 0.0,
                    "alarm": first is not None,
                    "first_alarm_date": _as_date(mon["last_receipt_date"].iloc[first]) if first is not None else None,
                }
            )
        rows.append(row)
    return pd.DataFrame(
        rows,
        columns=[
            "supplier_id",
            "status",
            "baseline_weeks",
            "monitored_weeks",
            "baseline_lead_time_days",
            "baseline_sd_days",
            "ewma_lead_time_days",
            "shift_days",
            "baseline_lateness_days",
            "recent_lateness_days",
            "cusum",
            "cusum_max",
            "alarm",
            "first_alarm_date",
        ],
    )


def _share_shift(lines: pd.DataFrame, key: str, bad_col: str, as_of: pd.Timestamp, s: RiskSettings) -> pd.DataFrame:
    """Recent vs baseline share of ``bad_col`` lines per ``key``, by promised date."""
    due = lines[lines["due"]]
    recent_start = as_of - pd.Timedelta(weeks=s.window_weeks)
    base_start = recent_start - pd.Timedelta(weeks=s.baseline_weeks)
    recent = due[due["promised_date"] > recent_start]
    base = due[(due["promised_date"] > base_start) & (due["promised_date"] <= recent_start)]
    keys = pd.Index(lines[key].dropna().unique()).sort_values()
    r, b = (
        part.groupby(key).agg(n=(bad_col, "size"), bad=(bad_col, "sum")).reindex(keys, fill_value=0)
        for part in (recent, base)
    )
    late_recent = recent[recent[bad_col]]
    days_late = late_recent.groupby(key)["days_late"].mean().reindex(keys)
    out = pd.DataFrame(
        {
            key: keys,
            "lines_recent": r["n"].to_numpy(),
            "bad_recent": r["bad"].to_numpy(float),
            "lines_baseline": b["n"].to_numpy(),
            "bad_baseline": b["bad"].to_numpy(float),
            "mean_days_late_recent": days_late.to_numpy(float),
        }
    )
    out["z"] = [
        _two_proportion_z(br, nr, bb, nb)
        for br, nr, bb, nb in out[["bad_recent", "lines_recent", "bad_baseline", "lines_baseline"]].itertuples(
            index=False
        )
    ]
    return out


def supplier_otif_decline(po_lines: pd.DataFrame, as_of: date, settings: RiskSettings = RiskSettings()) -> pd.DataFrame:
    """Rolling OTIF of the last ``window_weeks`` vs the ``baseline_weeks`` before, per supplier.

    Returns ``[supplier_id, otif_recent, lines_recent, otif_baseline, lines_baseline, otif_decline,
    z, mean_days_late_recent, flagged]``: OTIF as fractions 0-1 (NaN without lines), decline =
    baseline - recent (fraction points), z = one-sided two-proportion z of the miss rates,
    mean days late of the recent misses (open misses: as-of - promised date; a line received on
    time but short counts 0 days).
    """
    s = settings
    day = _day(as_of)
    lines = _prepare_lines(po_lines, day)
    lines["miss"] = ~lines["otif"]
    out = _share_shift(lines, "supplier_id", "miss", day, s)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["otif_recent"] = 1.0 - out["bad_recent"] / out["lines_recent"].replace(0, np.nan)
        out["otif_baseline"] = 1.0 - out["bad_baseline"] / out["lines_baseline"].replace(0, np.nan)
    out["otif_decline"] = out["otif_baseline"] - out["otif_recent"]
    out["flagged"] = (
        (out["otif_decline"] >= s.min_decline - 1e-12) & (out["z"] >= s.z_min) & (out["lines_recent"] >= s.min_lines)
    )
    return out[
        [
            "supplier_id",
            "otif_recent",
            "lines_recent",
            "otif_baseline",
            "lines_baseline",
            "otif_decline",
            "z",
            "mean_days_late_recent",
            "flagged",
        ]
    ]


def route_delays(
    po_lines: pd.DataFrame, suppliers: pd.DataFrame, as_of: date, settings: RiskSettings = RiskSettings()
) -> pd.DataFrame:
    """Share of late PO lines per route, recent window vs baseline.

    Args:
        po_lines: PO lines with receipts (see `supplier_lead_time_drift`).
        suppliers: ``[supplier_id, route]``.

    Returns:
        ``[route, late_share_recent, lines_recent, late_share_baseline, lines_baseline,
        late_share_increase, z, mean_days_late_recent, flagged]`` (shares 0-1, days).
    """
    require_columns(suppliers, ["supplier_id", "route"], "suppliers")
    s = settings
    day = _day(as_of)
    lines = _prepare_lines(po_lines, day).merge(
        suppliers[["supplier_id", "route"]].drop_duplicates("supplier_id"), on="supplier_id", how="inner"
    )
    lines = lines[lines["route"].notna()]
    out = _share_shift(lines, "route", "late", day, s)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["late_share_recent"] = out["bad_recent"] / out["lines_recent"].replace(0, np.nan)
        out["late_share_baseline"] = out["bad_baseline"] / out["lines_baseline"].replace(0, np.nan)
    out["late_share_increase"] = out["late_share_recent"] - out["late_share_baseline"]
    out["flagged"] = (
        (out["late_share_increase"] >= s.min_decline - 1e-12)
        & (out["z"] >= s.z_min)
        & (out["lines_recent"] >= s.min_lines)
    )
    return out[
        [
            "route",
            "late_share_recent",
            "lines_recent",
            "late_share_baseline",
            "lines_baseline",
            "late_share_increase",
            "z",
            "mean_days_late_recent",
            "flagged",
        ]
    ]


# --------------------------------------------------------------------------- assets


def _is_true(values: pd.Series) -> pd.Series:
    if values.dtype == bool:
        return values
    return values.astype(str).str.strip().str.lower().isin(["true", "1", "yes", "y", "t"])


def weekly_unplanned_downtime(
    downtime: pd.DataFrame, as_of: date, weeks: int = 52, resources: Sequence[str] | None = None
) -> pd.DataFrame:
    """Unplanned downtime hours per resource and full ISO week ending on or before as-of.

    Events with ``planned`` false are split across weeks by overlap; an event without an end, or
    ending after as-of, runs until the end of the as-of day. Weeks without events are 0 h.

    Returns ``[resource_id, week_start, downtime_hours]`` (every resource x week, hours).
    """
    require_columns(downtime, ["resource_id", "start", "end", "planned"], "downtime events")
    mondays = pd.DatetimeIndex(pd.to_datetime(full_weeks_ending(_day(as_of).date(), weeks)))
    horizon_end = _day(as_of) + pd.Timedelta(days=1)
    events = downtime[~_is_true(downtime["planned"])]
    start = pd.to_datetime(events["start"])
    end = pd.to_datetime(events["end"]).fillna(horizon_end).clip(upper=horizon_end)
    keep = start.notna() & (start < horizon_end)
    ids = list(pd.Index(downtime["resource_id"].dropna().unique()).union(pd.Index(resources or [])).sort_values())
    hours = pd.DataFrame(0.0, index=pd.Index(ids, name="resource_id"), columns=mondays)
    if keep.any():
        s64 = start[keep].to_numpy("datetime64[s]").astype(np.int64)[:, None]
        e64 = end[keep].to_numpy("datetime64[s]").astype(np.int64)[:, None]
        w0 = mondays.to_numpy("datetime64[s]").astype(np.int64)[None, :]
        overlap = np.clip(np.minimum(e64, w0 + 7 * 86400) - np.maximum(s64, w0), 0, None) / 3600.0
        per_resource = pd.DataFrame(overlap, columns=mondays).groupby(events.loc[keep, "resource_id"].to_numpy()).sum()
        hours.loc[per_resource.index] = hours.loc[per_resource.index] + per_resource
    hours.columns.name = "week_start"
    return hours.stack().rename("downtime_hours").reset_index()


def asset_downtime_trend(
    downtime: pd.DataFrame, as_of: date, settings: RiskSettings = RiskSettings(), resources: Sequence[str] | None = None
) -> pd.DataFrame:
    """Unplanned-downtime trend and CUSUM alarm per resource.

    Returns ``[resource_id, mean_recent_hours, mean_prior_hours, slope_recent, slope_prior, cusum,
    cusum_max, alarm, first_alarm_date]``: weekly hours means over the last ``recent_weeks`` and the
    weeks before, least-squares slopes (hours/week per week), CUSUM (sd) of the recent weeks
    standardized by the prior weeks, and the Sunday (or as-of) of the week that raised the alarm.
    """
    s = settings
    day = _day(as_of)
    weekly = weekly_unplanned_downtime(downtime, day, s.downtime_lookback_weeks, resources)
    split = weekly["week_start"].max() - pd.Timedelta(weeks=s.recent_weeks - 1) if len(weekly) else None
    rows = []
    for resource, part in weekly.groupby("resource_id", sort=True):
        part = part.sort_values("week_start")
        prior = part.loc[part["week_start"] < split, "downtime_hours"].to_numpy(float)
        recent_part = part[part["week_start"] >= split]
        recent = recent_part["downtime_hours"].to_numpy(float)
        mu = float(prior.mean()) if len(prior) else float("nan")
        sd = max(float(prior.std(ddof=1)) if len(prior) > 1 else 0.0, s.min_sd_hours)
        stats, first = (
            cusum_upper(np.clip((recent - mu) / sd, -s.z_cap, s.z_cap), s.cusum_k, s.cusum_h)
            if len(prior)
            else (np.zeros(len(recent)), None)
        )
        alarm_day = None
        if first is not None:
            alarm_day = min(recent_part["week_start"].iloc[first] + pd.Timedelta(days=6), day).date()
        rows.append(
            {
                "resource_id": resource,
                "mean_recent_hours": float(recent.mean()) if len(recent) else np.nan,
                "mean_prior_hours": mu,
                "slope_recent": _slope(recent),
                "slope_prior": _slope(prior),
                "cusum": float(stats[-1]) if len(stats) else 0.0,
                "cusum_max": float(stats.max()) if len(stats) else 0.0,
                "alarm": first is not None,
                "first_alarm_date": alarm_day,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "resource_id",
            "mean_recent_hours",
            "mean_prior_hours",
            "slope_recent",
            "slope_prior",
            "cusum",
            "cusum_max",
            "alarm",
            "first_alarm_date",
        ],
    )


# --------------------------------------------------------------------------- events


def open_risk_events(risk_events: pd.DataFrame, as_of: date, weeks: int = 4) -> pd.DataFrame:
    """risk_events rows dated in the ``weeks`` weeks up to as-of: as_of - 7 x weeks < date <= as_of.

    Returns the input columns plus ``age_days``, newest first.
    """
    require_columns(risk_events, ["event_id", "date", "kind", "entity_id"], "risk events")
    day = _day(as_of)
    events = risk_events.assign(date=pd.to_datetime(risk_events["date"]).dt.normalize())
    events = events[(events["date"] <= day) & (events["date"] > day - pd.Timedelta(weeks=weeks))].copy()
    events["age_days"] = (day - events["date"]).dt.days
    return events.sort_values(["date", "event_id"], ascending=[False, True]).reset_index(drop=True)


# --------------------------------------------------------------------------- exposure and impact


def resource_hours_per_week(resources: pd.DataFrame) -> pd.DataFrame:
    """Hours each resource is available in a week (``hours_per_day x days_per_week``): ``[resource_id,
    hours_per_week]``, the input of `risk_signals` that turns downtime hours into a share of the week."""
    require_columns(resources, ["resource_id", "hours_per_day", "days_per_week"], "resources")
    return pd.DataFrame(
        {
            "resource_id": resources["resource_id"],
            "hours_per_week": resources["hours_per_day"] * resources["days_per_week"],
        }
    )


def sku_exposure_map(
    purchase_orders: pd.DataFrame | None = None,
    suppliers: pd.DataFrame | None = None,
    routings: pd.DataFrame | None = None,
    bom: pd.DataFrame | None = None,
    max_levels: int = 20,
) -> pd.DataFrame:
    """Which SKUs stop when a supplier, route or resource fails.

    supplier: SKUs bought from it (purchase_orders sku x supplier_id); route: the supplier's route
    (suppliers.route); asset: resources in the SKU's routing. With a ``bom``
    ``[parent_sku, component_sku]`` the exposure is passed up to every parent, level by level, so
    a sold SKU is exposed to its components' suppliers.

    Returns ``[sku, kind, entity_id]`` (unique rows).
    """
    parts = [pd.DataFrame(columns=["sku", "kind", "entity_id"])]
    if purchase_orders is not None:
        require_columns(purchase_orders, ["sku", "supplier_id"], "purchase orders")
        bought = purchase_orders[["sku", "supplier_id"]].dropna().drop_duplicates()
        parts.append(bought.rename(columns={"supplier_id": "entity_id"}).assign(kind="supplier"))
        if suppliers is not None:
            require_columns(suppliers, ["supplier_id", "route"], "suppliers")
            routed = bought.merge(suppliers[["supplier_id", "route"]].dropna(), on="supplier_id")
            parts.append(routed[["sku", "route"]].rename(columns={"route": "entity_id"}).assign(kind="route"))
    if routings is not None:
        require_columns(routings, ["sku", "resource_id"], "routings")
        parts.append(
            routings[["sku", "resource_id"]].dropna().rename(columns={"resource_id": "entity_id"}).assign(kind="asset")
        )
    exposure = pd.concat(parts, ignore_index=True)[["sku", "kind", "entity_id"]].drop_duplicates()
    if bom is not None and len(exposure):
        require_columns(bom, ["parent_sku", "component_sku"], "bill of materials")
        links = bom[["parent_sku", "component_sku"]].dropna().drop_duplicates()
        frontier = exposure
        for _ in range(max_levels):
            up = frontier.merge(links, left_on="sku", right_on="component_sku")[["parent_sku", "kind", "entity_id"]]
            up = up.rename(columns={"parent_sku": "sku"}).drop_duplicates()
            new = up.merge(exposure, how="left", indicator=True)
            new = new[new["_merge"] == "left_only"].drop(columns="_merge")
            if new.empty:
                break
            exposure = pd.concat([exposure, new], ignore_index=True)
            frontier = new
    return exposure.reset_index(drop=True)


def revenue_at_risk(forecast_revenue: pd.DataFrame, skus: Sequence[str], start: date, exposure_days: float) -> float:
    """Forecast revenue (currency) of ``skus`` over [start, start + exposure_days).

    ``forecast_revenue``: ``[sku, week_start, revenue]`` weekly; a week's revenue is spread evenly
    over its 7 days, so partial weeks count pro rata (fractional days too).
    """
    require_columns(forecast_revenue, ["sku", "week_start", "revenue"], "forecast revenue")
    if exposure_days is None or not np.isfinite(exposure_days) or exposure_days <= 0 or len(skus) == 0:
        return 0.0
    rows = forecast_revenue[forecast_revenue["sku"].isin(list(skus))]
    if rows.empty:
        return 0.0
    week_day = (pd.to_datetime(rows["week_start"]).dt.normalize() - _day(start)).dt.days.to_numpy(float)
    overlap = np.clip(np.minimum(week_day + 7.0, exposure_days) - np.maximum(week_day, 0.0), 0.0, 7.0)
    return float((pd.to_numeric(rows["revenue"]).to_numpy(float) * overlap / 7.0).sum())


# --------------------------------------------------------------------------- signals and board


def _exposed(sku_exposure: pd.DataFrame | None, kind: str, entity_id) -> list:
    if sku_exposure is None or sku_exposure.empty:
        return []
    hit = sku_exposure[(sku_exposure["kind"] == kind) & (sku_exposure["entity_id"].astype(str) == str(entity_id))]
    return list(hit["sku"].unique())


def root_causes(suppliers: pd.DataFrame | None) -> dict[tuple[str, str], str]:
    """(kind, entity_id) -> root cause for the entities whose root cause is another entity: a route
    used by exactly one supplier is that supplier's ("supplier <id>")."""
    if suppliers is None or suppliers.empty or "route" not in suppliers:
        return {}
    users = suppliers[["supplier_id", "route"]].dropna().drop_duplicates().groupby("route")["supplier_id"]
    return {("route", str(route)): f"supplier {ids.iloc[0]}" for route, ids in users if ids.nunique() == 1}


def root_cause_of(kind: str, entity_id, causes: dict[tuple[str, str], str]) -> str:
    return causes.get((str(kind), str(entity_id)), f"{kind} {entity_id}")


def _signal(
    kind: str,
    entity_id,
    signal: str,
    detected_on: date,
    probability: float,
    impact: float,
    exposure_days: float,
    mitigation: str,
    detail: str,
    signal_id: str | None = None,
) -> dict:
    return {
        "signal_id": signal_id or f"{signal}-{entity_id}-{detected_on:%Y%m%d}",
        "kind": kind,
        "entity_id": entity_id,
        "signal": signal,
        "detected_on": detected_on,
        "probability": float(min(max(probability, 0.0), 1.0)) if np.isfinite(probability) else np.nan,
        "impact_value": impact,
        "expected_impact": min(max(probability, 0.0), 1.0) * impact,
        "exposure_days": exposure_days,
        "mitigation": mitigation,
        "owner": OWNERS[kind],
        "detail": detail,
    }


_EVENT_MITIGATION = {
    "supplier": "Confirm status and recovery date with {entity}; pull in open POs, check stock cover of its {n} "
    "exposed SKU(s), line up an alternate supplier.",
    "route": "Confirm transit status on route {entity}; reroute or switch mode for in-transit and next shipments "
    "of its {n} exposed SKU(s).",
    "asset": "Get a repair/recovery estimate for {entity}; move urgent orders to an alternate resource or overtime "
    "for its {n} exposed SKU(s).",
}


def risk_signals(
    as_of: date,
    *,
    po_lines: pd.DataFrame | None = None,
    suppliers: pd.DataFrame | None = None,
    downtime: pd.DataFrame | None = None,
    risk_events: pd.DataFrame | None = None,
    forecast_revenue: pd.DataFrame | None = None,
    sku_exposure: pd.DataFrame | None = None,
    resource_hours_per_week: pd.DataFrame | None = None,
    settings: RiskSettings = RiskSettings(),
) -> pd.DataFrame:
    """All risk signals as of a date, each with probability, impact and mitigation.

    Every input is optional: a missing extract silences its detectors instead of failing.

    Args:
        as_of: cycle date; later rows are ignored.
        po_lines: PO lines with receipts (`po_lines_as_of`) -> drift and OTIF decline signals.
        suppliers: ``[supplier_id, route]`` -> route delay signals (with po_lines).
        downtime: ``[resource_id, start, end, planned]`` -> downtime trend signals.
        risk_events: ``[event_id, date, kind, entity_id, description]`` -> event signals.
        forecast_revenue: ``[sku, week_start, revenue]`` forecast from horizon week 1 (currency).
        sku_exposure: ``[sku, kind, entity_id]`` (`sku_exposure_map`). Without it (or without a
            forecast) impact_value and expected_impact are NaN ("unknown"), never invented.
        resource_hours_per_week: ``[resource_id, hours_per_week]`` (resources.hours_per_day x
            days_per_week); missing resources use ``settings.default_hours_per_week``.

    Returns:
        ``[signal_id, kind, entity_id, signal, detected_on, probability, impact_value,
        expected_impact, exposure_days, mitigation, owner, detail]``; kind in supplier / route /
        asset, signal in drift / otif_decline / route_delay / downtime_trend / event; probability
        0-1 (heuristic, see module docstring), impact_value and expected_impact in currency,
        exposure_days in days. Sorted by expected_impact descending (unknown last).
    """
    s = settings
    day = _day(as_of)
    start = first_horizon_week(day.date())
    can_value = forecast_revenue is not None and sku_exposure is not None

    def impact(kind: str, entity, days: float) -> tuple[float, int]:
        skus = _exposed(sku_exposure, kind, entity)
        if not can_value:
            return float("nan"), len(skus)
        return revenue_at_risk(forecast_revenue, skus, start, days), len(skus)

    rows: list[dict] = []
    if po_lines is not None and len(po_lines):
        drift = supplier_lead_time_drift(po_lines, day, s)
        for r in drift[drift["alarm"]].itertuples(index=False):
            days = max(float(r.shift_days), 0.0)
            value, n = impact("supplier", r.supplier_id, days)
            rows.append(
                _signal(
                    "supplier",
                    r.supplier_id,
                    "drift",
                    r.first_alarm_date,
                    alarm_probability(r.cusum, s.cusum_h),
                    value,
                    days,
                    f"Pull in open POs from {r.supplier_id} by ~{math.ceil(days)} days and raise safety stock on its "
                    f"{n} exposed SKU(s) for the longer lead time; qualify an alternate supplier if the drift persists.",
                    f"lead time {r.ewma_lead_time_days:.1f} d vs baseline {r.baseline_lead_time_days:.1f} d "
                    f"({r.shift_days:+.1f} d); CUSUM {r.cusum:.1f} sd (alarm > {s.cusum_h:g})",
                )
            )
        otif = supplier_otif_decline(po_lines, day, s)
        for r in otif[otif["flagged"]].itertuples(index=False):
            days = max(float(np.nan_to_num(r.mean_days_late_recent)), s.min_exposure_days)
            value, n = impact("supplier", r.supplier_id, days)
            rows.append(
                _signal(
                    "supplier",
                    r.supplier_id,
                    "otif_decline",
                    day.date(),
                    1.0 - float(r.otif_recent),
                    value,
                    days,
                    f"Supplier review with {r.supplier_id}: expedite past-due lines, add buffer stock on its {n} exposed "
                    f"SKU(s), dual-source the A items.",
                    f"OTIF {r.otif_recent:.0%} over the last {s.window_weeks} weeks ({r.lines_recent} lines) vs "
                    f"{r.otif_baseline:.0%} baseline; misses {r.mean_days_late_recent:.1f} d late on average",
                )
            )
        if suppliers is not None and len(suppliers):
            routes = route_delays(po_lines, suppliers, day, s)
            for r in routes[routes["flagged"]].itertuples(index=False):
                days = max(float(np.nan_to_num(r.mean_days_late_recent)), s.min_exposure_days)
                value, n = impact("route", r.route, days)
                rows.append(
                    _signal(
                        "route",
                        r.route,
                        "route_delay",
                        day.date(),
                        float(r.late_share_recent),
                        value,
                        days,
                        f"Reroute or switch mode on route {r.route}; pull in shipments of its {n} exposed SKU(s) by "
                        f"~{math.ceil(days)} days.",
                        f"{r.late_share_recent:.0%} of lines late over the last {s.window_weeks} weeks vs "
                        f"{r.late_share_baseline:.0%} baseline; {r.mean_days_late_recent:.1f} d late on average",
                    )
                )
    if downtime is not None and len(downtime):
        trend = asset_downtime_trend(downtime, day, s)
        hours_map: dict = {}
        if resource_hours_per_week is not None:
            require_columns(resource_hours_per_week, ["resource_id", "hours_per_week"], "resource hours per week")
            hours_map = resource_hours_per_week.set_index("resource_id")["hours_per_week"].astype(float).to_dict()
        for r in trend[trend["alarm"]].itertuples(index=False):
            extra = max(float(r.mean_recent_hours) - float(r.mean_prior_hours), 0.0)
            hours = hours_map.get(r.resource_id, s.default_hours_per_week) or s.default_hours_per_week
            share = min(1.0, extra / hours)
            horizon_days = 7.0 * s.horizon_weeks
            value, n = impact("asset", r.resource_id, horizon_days)
            rows.append(
                _signal(
                    "asset",
                    r.resource_id,
                    "downtime_trend",
                    r.first_alarm_date,
                    alarm_probability(r.cusum, s.cusum_h),
                    share * value,
                    share * horizon_days,
                    f"Schedule preventive maintenance on {r.resource_id} in the next changeover window, check critical "
                    f"spares, and plan overflow to an alternate routing for its {n} exposed SKU(s).",
                    f"unplanned downtime {r.mean_recent_hours:.1f} h/week over the last {s.recent_weeks} weeks vs "
                    f"{r.mean_prior_hours:.1f} h/week before (slope {r.slope_recent:+.2f} h/week per week); "
                    f"+{extra:.1f} h/week = {share:.0%} of its {hours:g} h/week",
                )
            )
    if risk_events is not None and len(risk_events):
        for r in open_risk_events(risk_events, day, s.event_weeks).itertuples(index=False):
            kind = str(r.kind)
            if kind not in OWNERS:
                raise ValueError(f"risk event {r.event_id} has kind '{kind}'; expected supplier, route or asset")
            probability = s.event_probability * 0.5 ** (r.age_days / (7.0 * s.event_half_life_weeks))
            value, n = impact(kind, r.entity_id, s.event_exposure_days)
            description = getattr(r, "description", "")
            description = "" if description is None or pd.isna(description) else str(description)
            rows.append(
                _signal(
                    kind,
                    r.entity_id,
                    "event",
                    r.date.date(),
                    probability,
                    value,
                    s.event_exposure_days,
                    _EVENT_MITIGATION[kind].format(entity=r.entity_id, n=n),
                    f"{description} (reported {r.age_days} d ago)".strip(),
                    signal_id=f"event-{r.event_id}",
                )
            )
    causes = root_causes(suppliers)
    for row in rows:
        row["root_cause"] = root_cause_of(row["kind"], row["entity_id"], causes)
        if row["root_cause"] != f"{row['kind']} {row['entity_id']}":
            row["detail"] = f"{row['detail']}; only {row['root_cause'].split(' ', 1)[1]} ships on this route"
    signals = pd.DataFrame(rows, columns=SIGNAL_COLUMNS)
    return _rank_order(signals).reset_index(drop=True)


def _rank_order(signals: pd.DataFrame) -> pd.DataFrame:
    return signals.sort_values(
        ["expected_impact", "probability", "signal_id"],
        ascending=[False, False, True],
        na_position="last",
        kind="mergesort",
    )


def risk_board(
    signals: pd.DataFrame, top: int = 5, one_per_entity: bool = False, by_root_cause: bool = True
) -> pd.DataFrame:
    """The meeting's risk board: the ``top`` signals by expected impact, ranked 1..top.

    Ties (and unknown impacts, which go last) are ordered by probability, then signal_id.
    ``by_root_cause`` (default) keeps the strongest signal of each root cause (``root_cause``;
    without that column, each kind and entity is its own) and lists the others, strongest first,
    in ``supporting`` ("signal entity_id; ..."), so one troubled supplier and the route only it
    uses take one line. ``one_per_entity`` keeps the strongest signal of each (kind, entity_id).
    Returns ``[rank, *SIGNAL_COLUMNS, supporting]``.
    """
    require_columns(signals, [c for c in SIGNAL_COLUMNS if c != "root_cause"], "risk signals")
    if top < 1:
        raise ValueError(f"the risk board needs at least 1 row, got top={top}")
    ordered = _rank_order(signals).copy()
    if "root_cause" not in ordered or ordered["root_cause"].isna().any():
        fallback = ordered["kind"].astype(str) + " " + ordered["entity_id"].astype(str)
        ordered["root_cause"] = ordered["root_cause"].fillna(fallback) if "root_cause" in ordered else fallback
    ordered["supporting"] = ""
    if one_per_entity:
        ordered = ordered.drop_duplicates(["kind", "entity_id"], keep="first")
    if by_root_cause:
        label = ordered["signal"].astype(str) + " " + ordered["entity_id"].astype(str)
        others = label.groupby(ordered["root_cause"], sort=False).apply(lambda g: "; ".join(g.iloc[1:]))
        ordered = ordered.drop_duplicates(["root_cause"], keep="first")
        ordered["supporting"] = ordered["root_cause"].map(others).fillna("")
    board = ordered.head(top).reset_index(drop=True)
    board.insert(0, "rank", np.arange(1, len(board) + 1))
    return board[BOARD_COLUMNS]
