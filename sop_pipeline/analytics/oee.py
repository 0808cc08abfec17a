"""OEE (overall equipment effectiveness) and its losses in hours, per resource-day and per ISO week.

Definitions (KPI_DEFINITIONS.md, "Efficiency"):

- availability = run hours / planned production hours
- performance  = (ideal cycle time x total units) / run hours
- quality      = good units / total units
- OEE          = availability x performance x quality

Mapping to the ``resource_time`` extract (date, resource_id, planned_hours, run_hours,
ideal_units, total_units, good_units): ``ideal_units`` is what the resource would have made at
its ideal rate during ``run_hours``, so the ideal cycle time is ``run_hours / ideal_units`` hours
per unit and **performance = total_units / ideal_units**.

Loss hours (a "six big losses" style breakdown that adds up exactly):

    planned_hours
      - availability_loss_hours  = planned - run
            = planned_downtime + changeover + unplanned_downtime + other (when those are given)
      - performance_loss_hours   = run x (1 - total / ideal)       (slow cycles, small stops)
      - quality_loss_hours       = run x (total - good) / ideal     (ideal time spent on scrap)
      = fully_productive_hours   = run x good / ideal = OEE x planned

Weekly figures (ISO week, Monday start) add the hours first and take ratios after, so a day with
more planned time weighs more: availability = sum run / sum planned, performance = sum net run
hours / sum run, quality = sum fully productive hours / sum net run hours, where net run hours
= run x total / ideal. Weekly quality is therefore weighted by ideal time; it equals
sum good / sum total units whenever the ideal rate is the same all week (one product family), and
it is what makes weekly A x P x Q equal fully productive hours / planned hours.

The same availability definition is used by the sequencer (``sequencing.sequence_week``): a
sequence's planned production time is the run plus changeover hours it occupies, so
availability = run / (run + changeover); see :func:`availability`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sop_pipeline.analytics.calendar import week_start
from sop_pipeline.analytics.columns import require_columns

RESOURCE_TIME_COLUMNS = (
    "date",
    "resource_id",
    "planned_hours",
    "run_hours",
    "ideal_units",
    "total_units",
    "good_units",
)
LOSS_PART_COLUMNS = ("planned_downtime_hours", "changeover_hours", "unplanned_downtime_hours")
_TOLERANCE_HOURS = 1e-6


def availability(run_hours: float, planned_hours: float) -> float:
    """Availability = run hours / planned production hours (NaN when nothing was planned)."""
    return float(run_hours) / float(planned_hours) if planned_hours > 0 else float("nan")


def oee_from_factors(availability_ratio: float, performance_ratio: float, quality_ratio: float) -> float:
    """OEE = availability x performance x quality (each a ratio 0-1)."""
    return float(availability_ratio) * float(performance_ratio) * float(quality_ratio)


def _check_resource_time(resource_time: pd.DataFrame, loss_parts: list[str]) -> None:
    require_columns(resource_time, RESOURCE_TIME_COLUMNS, "resource_time")
    numeric = ["planned_hours", "run_hours", "ideal_units", "total_units", "good_units", *loss_parts]
    for col in numeric:
        values = pd.to_numeric(resource_time[col], errors="coerce")
        bad = resource_time[values.isna() | (values < 0)]
        if len(bad):
            row = bad.iloc[0]
            raise ValueError(
                f"resource_time: {col} must be a number >= 0, found {row[col]!r} for resource "
                f"{row['resource_id']} on {row['date']}"
            )
    over = resource_time[resource_time["run_hours"] > resource_time["planned_hours"] + _TOLERANCE_HOURS]
    if len(over):
        row = over.iloc[0]
        raise ValueError(
            f"resource_time: resource {row['resource_id']} ran {row['run_hours']} h on {row['date']} "
            f"but only {row['planned_hours']} h were planned; run hours cannot exceed planned hours"
        )
    scrap = resource_time[resource_time["good_units"] > resource_time["total_units"] + 1e-9]
    if len(scrap):
        row = scrap.iloc[0]
        raise ValueError(
            f"resource_time: resource {row['resource_id']} reports {row['good_units']} good units "
            f"out of {row['total_units']} total on {row['date']}; good units cannot exceed total"
        )
    no_ideal = resource_time[(resource_time["ideal_units"] <= 0) & (resource_time["total_units"] > 0)]
    if len(no_ideal):
        row = no_ideal.iloc[0]
        raise ValueError(
            f"resource_time: resource {row['resource_id']} made {row['total_units']} units on "
            f"{row['date']} with ideal_units = 0; the ideal rate is needed for performance"
        )


def _loss_hours(frame: pd.DataFrame, loss_parts: list[str]) -> pd.DataFrame:
    """Add net run, fully productive and loss hours to rows that hold the input sums."""
    out = frame.copy()
    run = out["run_hours"].to_numpy(dtype=float)
    ideal = out["ideal_units"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        hours_per_ideal_unit = np.where(ideal > 0, run / np.where(ideal > 0, ideal, 1.0), 0.0)
    out["net_run_hours"] = out["total_units"].to_numpy(dtype=float) * hours_per_ideal_unit
    out["fully_productive_hours"] = out["good_units"].to_numpy(dtype=float) * hours_per_ideal_unit
    out["availability_loss_hours"] = out["planned_hours"] - out["run_hours"]
    if loss_parts:
        explained = out[loss_parts].sum(axis=1)
        for part in LOSS_PART_COLUMNS:
            if part in loss_parts:
                out[f"{part.removesuffix('_hours')}_loss_hours"] = out[part]
        if "unplanned_downtime_hours" not in loss_parts:
            # what the given parts do not explain is unplanned stoppage
            out["unplanned_downtime_loss_hours"] = out["availability_loss_hours"] - explained
            out["other_availability_loss_hours"] = 0.0
        else:
            out["other_availability_loss_hours"] = out["availability_loss_hours"] - explained
    out["performance_loss_hours"] = out["run_hours"] - out["net_run_hours"]
    out["quality_loss_hours"] = out["net_run_hours"] - out["fully_productive_hours"]
    return out


def _ratios(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame
    planned = out["planned_hours"].to_numpy(dtype=float)
    run = out["run_hours"].to_numpy(dtype=float)
    net = out["net_run_hours"].to_numpy(dtype=float)
    good_h = out["fully_productive_hours"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["availability"] = np.where(planned > 0, run / planned, np.nan)
        out["performance"] = np.where(run > 0, net / run, np.nan)
        out["quality"] = np.where(net > 0, good_h / net, np.nan)
        out["oee"] = np.where(planned > 0, good_h / planned, np.nan)
    return out


def oee_daily(resource_time: pd.DataFrame) -> pd.DataFrame:
    """OEE per resource and day, with its loss hours.

    ``resource_time``: date, resource_id, planned_hours, run_hours (hours), ideal_units,
    total_units, good_units (units); optional planned_downtime_hours, changeover_hours,
    unplanned_downtime_hours (hours inside planned_hours) split the availability loss. When
    unplanned_downtime_hours is not given, it is the availability loss the other parts leave.

    Returns one row per (resource_id, date) with the inputs plus availability, performance,
    quality, oee (ratios 0-1; NaN where the denominator is 0, except oee = 0 when planned time
    had no run), net_run_hours, fully_productive_hours and the *_loss_hours columns. Rows with
    the same resource and date are added together first.
    """
    loss_parts = [c for c in LOSS_PART_COLUMNS if c in resource_time.columns]
    _check_resource_time(resource_time, loss_parts)
    rows = resource_time.copy()
    rows["date"] = pd.to_datetime(rows["date"]).dt.normalize()
    sums = ["planned_hours", "run_hours", "ideal_units", "total_units", "good_units", *loss_parts]
    rows[sums] = rows[sums].astype(float)
    # per-row losses first: the ideal rate can differ between rows of the same day
    rows = _loss_hours(rows, loss_parts)
    hour_cols = [c for c in rows.columns if c.endswith("_hours") and c not in sums]
    daily = rows.groupby(["resource_id", "date"], as_index=False, sort=True)[sums + hour_cols].sum()
    return _ratios(daily)


def oee_weekly(resource_time: pd.DataFrame) -> pd.DataFrame:
    """OEE per resource and ISO week (``week_start`` = Monday), hours added first, ratios after.

    Same input and output columns as :func:`oee_daily`, with ``week_start`` instead of ``date``
    and a ``days`` count.
    """
    daily = oee_daily(resource_time)
    daily["week_start"] = pd.to_datetime([week_start(d.date()) for d in daily["date"]])
    value_cols = [c for c in daily.columns if c.endswith("_hours") or c.endswith("_units")]
    weekly = daily.groupby(["resource_id", "week_start"], as_index=False, sort=True).agg(
        days=("date", "count"), **{c: (c, "sum") for c in value_cols}
    )
    return _ratios(weekly)
