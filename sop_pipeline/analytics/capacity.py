"""Constraint capacity by resource-week, downtime by resource-week, skill matrix and cross-training.

Capacity (hours per resource and ISO week, Monday start):

    calendar_hours   = hours_per_day x days_per_week (or the sum of a per-day calendar)
    available_hours  = max(0, calendar_hours - planned downtime hours) x availability factor
    availability factor = 1 - unplanned downtime share in history
                        = 1 - sum unplanned hours / sum (calendar - planned downtime) hours
    run_hours        = sum over SKUs of planned units / units_per_hour (routings), per resource
    required_hours   = run_hours + changeover_hours (changeover given per resource-week)
    load_pct         = 100 x required_hours / available_hours
    is_bottleneck    = the resource with the highest load_pct that week (one per week; ties go
                       to the first resource_id), across machines, labour and tooling alike

Skills: an employee is **qualified** on a resource at level >= 2 (``QUALIFIED_LEVEL``; 0 = none,
1 = in training, 2 = independent, 3 = can train others). ``hours_per_week`` is the employee's
weekly hours (the ``skills`` extract repeats it on each of their rows); those hours can be split
across the resources they are qualified on, but not spent twice.

Cross-training (:func:`cross_train_plan`): operator-hours needed on labour-type and
skill-constrained resources (one qualified person per required hour) are compared per shift
with what the qualified staff can cover jointly (a CP-SAT allocation). Where a shortfall remains,
CP-SAT picks whom to train on what: fewest uncovered hours first, then fewest trainings (people
already at level 1 preferred), then fewest hours taken away from where they worked, with each
person's hours <= hours_per_week and no resource left with more shortfall than it had.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from sop_pipeline.analytics.columns import require_columns

QUALIFIED_LEVEL = 2
CAPACITY_COLUMNS = (
    "resource_id",
    "type",
    "week_start",
    "calendar_hours",
    "planned_downtime_hours",
    "availability_factor",
    "available_hours",
    "run_hours",
    "changeover_hours",
    "required_hours",
    "load_pct",
    "is_bottleneck",
)
_HOUR = pd.Timedelta(hours=1)
_WEEK = pd.Timedelta(days=7)


class CapacityError(ValueError):
    """Capacity inputs that cannot be used; the message names the resource, SKU or employee."""


def _require(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    require_columns(frame, columns, name, error=CapacityError)


def _mondays(weeks: Sequence[date | pd.Timestamp | str]) -> list[pd.Timestamp]:
    out = []
    for w in weeks:
        ts = pd.Timestamp(w).normalize()
        if ts.weekday() != 0:
            raise CapacityError(f"week {ts.date()} is not a Monday; weeks are ISO weeks named by their Monday")
        out.append(ts)
    return out


def _to_monday(values: pd.Series) -> pd.Series:
    ts = pd.to_datetime(values).dt.normalize()
    return ts - pd.to_timedelta(ts.dt.day_of_week, unit="D")


# --------------------------------------------------------------------------- calendar and downtime


def calendar_hours(
    resources: pd.DataFrame, weeks: Sequence[date], calendar: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Calendar (shift) hours per resource-week.

    ``resources``: resource_id, hours_per_day, days_per_week. ``calendar`` (optional): resource_id,
    date, hours - a per-day calendar; a resource with calendar rows uses their weekly sum (days
    without a row count 0 h), others use hours_per_day x days_per_week.
    Returns resource_id, week_start, calendar_hours.
    """
    _require(resources, "resources", ["resource_id", "hours_per_day", "days_per_week"])
    mondays = _mondays(weeks)
    grid = pd.MultiIndex.from_product([resources["resource_id"], mondays], names=["resource_id", "week_start"])
    out = grid.to_frame(index=False)
    per_week = resources.set_index("resource_id")
    out["calendar_hours"] = out["resource_id"].map(
        per_week["hours_per_day"].astype(float) * per_week["days_per_week"].astype(float)
    )
    if calendar is not None and len(calendar):
        _require(calendar, "calendar", ["resource_id", "date", "hours"])
        cal = calendar.assign(week_start=_to_monday(calendar["date"]))
        weekly = cal.groupby(["resource_id", "week_start"])["hours"].sum()
        with_calendar = out["resource_id"].isin(set(cal["resource_id"]))
        keys = pd.MultiIndex.from_frame(out.loc[with_calendar, ["resource_id", "week_start"]])
        out.loc[with_calendar, "calendar_hours"] = weekly.reindex(keys).fillna(0.0).to_numpy()
    return out


def downtime_by_week(downtime: pd.DataFrame, weeks: Sequence[date] | None = None) -> pd.DataFrame:
    """Planned and unplanned downtime hours per resource-week, events split at week boundaries.

    ``downtime``: resource_id, start, end (timestamps), planned (bool; the ``downtime`` extract)
    or kind ('planned' / 'unplanned'). An event from Sunday 20:00 to Monday 04:00 puts 4 h in each
    week. ``weeks``: keep only these Mondays (and add zero rows for them); None = every week hit.
    Returns resource_id, week_start, planned_hours, unplanned_hours.
    """
    _require(downtime, "downtime", ["resource_id", "start", "end"])
    if "planned" in downtime.columns:
        planned = downtime["planned"].astype(bool).to_numpy()
    elif "kind" in downtime.columns:
        kinds = downtime["kind"].astype(str).str.lower()
        if not kinds.isin(["planned", "unplanned"]).all():
            raise CapacityError(
                f"downtime kind must be 'planned' or 'unplanned', found {sorted(set(kinds) - {'planned', 'unplanned'})}"
            )
        planned = (kinds == "planned").to_numpy()
    else:
        raise CapacityError("downtime needs a 'planned' (bool) or 'kind' column")
    starts, ends = pd.to_datetime(downtime["start"]), pd.to_datetime(downtime["end"])
    if (ends < starts).any():
        row = downtime[(ends < starts).to_numpy()].iloc[0]
        raise CapacityError(f"downtime on {row['resource_id']} ends ({row['end']}) before it starts ({row['start']})")
    pieces: list[tuple[str, pd.Timestamp, bool, float]] = []
    for res, s, e, p in zip(downtime["resource_id"], starts, ends, planned):
        monday = s.normalize() - pd.Timedelta(days=s.weekday())
        while monday < e:
            overlap = min(e, monday + _WEEK) - max(s, monday)
            if overlap > pd.Timedelta(0):
                pieces.append((res, monday, bool(p), overlap / _HOUR))
            monday += _WEEK
    frame = pd.DataFrame(pieces, columns=["resource_id", "week_start", "planned", "hours"])
    frame["planned_hours"] = np.where(frame["planned"], frame["hours"], 0.0)
    frame["unplanned_hours"] = np.where(frame["planned"], 0.0, frame["hours"])
    out = frame.groupby(["resource_id", "week_start"], as_index=False)[["planned_hours", "unplanned_hours"]].sum()
    if weeks is not None:
        mondays = _mondays(weeks)
        resources = sorted(set(downtime["resource_id"]))
        grid = pd.MultiIndex.from_product([resources, mondays], names=["resource_id", "week_start"])
        out = out.set_index(["resource_id", "week_start"]).reindex(grid, fill_value=0.0).reset_index()
    return out.sort_values(["resource_id", "week_start"], kind="stable").reset_index(drop=True)


def availability_factors(
    downtime: pd.DataFrame, resources: pd.DataFrame, history_weeks: Sequence[date], calendar: pd.DataFrame | None = None
) -> pd.Series:
    """Historical availability per resource = 1 - unplanned downtime share over ``history_weeks``.

    share = sum unplanned downtime hours / sum (calendar hours - planned downtime hours), clipped
    to 0-1. A resource with no hours in the history gets 1.0. Returns a Series by resource_id.
    """
    cal = calendar_hours(resources, history_weeks, calendar)
    dt = (
        downtime_by_week(downtime, history_weeks)
        if len(downtime)
        else pd.DataFrame(columns=["resource_id", "week_start", "planned_hours", "unplanned_hours"])
    )
    merged = cal.merge(dt, on=["resource_id", "week_start"], how="left").fillna(
        {"planned_hours": 0.0, "unplanned_hours": 0.0}
    )
    merged["open_hours"] = (merged["calendar_hours"] - merged["planned_hours"]).clip(lower=0.0)
    sums = merged.groupby("resource_id")[["open_hours", "unplanned_hours"]].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(sums["open_hours"] > 0, sums["unplanned_hours"] / sums["open_hours"], 0.0)
    factor = pd.Series(np.clip(1.0 - share, 0.0, 1.0), index=sums.index, name="availability_factor")
    return factor.reindex(resources["resource_id"]).fillna(1.0)


# --------------------------------------------------------------------------- shift calendar

# Shift start (hour of the day) of a resource working fewer than 24 h a day: 16 h -> 06:00-22:00,
# 8 h -> 06:00-14:00. A day's shift never runs past midnight: the start moves earlier if it would
# (24 h -> 00:00-24:00). Callers may pass another start (``shift_start_hour``).
DEFAULT_SHIFT_START_HOUR = 6.0


@dataclass(frozen=True)
class WorkCalendar:
    """The working windows of one resource in one week, and the mapping between productive hours
    (hours worked since the week's first window opened) and clock time.

    ``windows``: sorted, non-overlapping ``(start, end)`` timestamps. Build one with
    :func:`shift_calendar` (hours per day x days per week, less planned downtime) or
    :meth:`continuous` (one block from a start time).
    """

    windows: tuple[tuple[pd.Timestamp, pd.Timestamp], ...]

    @classmethod
    def continuous(cls, start: pd.Timestamp | str, hours: float) -> WorkCalendar:
        """One window of ``hours`` from ``start`` (no shift calendar: the resource never stops)."""
        start = pd.Timestamp(start)
        return cls(((start, start + pd.Timedelta(hours=float(hours))),) if hours > 0 else ())

    @property
    def hours(self) -> float:
        """Working hours in the calendar."""
        return float(sum((e - s) / _HOUR for s, e in self.windows))

    def _cum(self) -> tuple[np.ndarray, np.ndarray]:
        lengths = np.array([(e - s) / _HOUR for s, e in self.windows], dtype=float)
        ends = np.cumsum(lengths)
        return ends - lengths, ends

    def at(self, hours: float | Sequence[float] | np.ndarray, side: str = "start") -> pd.Series:
        """Clock time after ``hours`` productive hours (vectorized).

        ``side="start"``: a time on a window boundary is the *next* window's opening (work starts
        when the shift starts); ``side="end"``: the closing window's end (work that finishes at
        22:00 ends at 22:00, not at the next morning's 06:00). Hours beyond the calendar give NaT.
        """
        if side not in ("start", "end"):
            raise CapacityError(f"side must be 'start' or 'end', got {side!r}")
        h = np.atleast_1d(np.asarray(hours, dtype=float))
        out = pd.Series(pd.NaT, index=range(len(h)), dtype="datetime64[ns]")
        if not self.windows:
            return out
        begins, ends = self._cum()
        eps = 1e-9
        # start: first window ending after h; end: first window ending at or after h
        k = (
            np.searchsorted(ends, h + eps, side="right")
            if side == "start"
            else np.searchsorted(ends, h - eps, side="left")
        )
        ok = (h >= -eps) & (k < len(self.windows))
        starts = np.array([s.value for s, _ in self.windows], dtype=np.int64)
        idx = np.where(ok, k, 0)
        offset_ns = np.round((h - begins[idx]) * 3_600e9).astype(np.int64)
        values = pd.to_datetime(starts[idx] + np.maximum(offset_ns, 0))
        out[ok] = values[ok]
        return out.dt.round("s")

    def offset(self, times: pd.Timestamp | Sequence | pd.Series) -> np.ndarray:
        """Productive hours worked by each clock time (inverse of :meth:`at`): 0 before the first
        window, the calendar's hours after the last; a time in a gap counts the windows before it."""
        t = pd.to_datetime(pd.Series(np.atleast_1d(np.asarray(times, dtype="datetime64[ns]"))))
        if not self.windows:
            return np.zeros(len(t))
        tv = t.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        starts = np.array([s.value for s, _ in self.windows], dtype=np.int64)
        stops = np.array([e.value for _, e in self.windows], dtype=np.int64)
        done = np.clip((tv[:, None] - starts[None, :]), 0, (stops - starts)[None, :]).sum(axis=1)
        return done / 3_600e9

    @property
    def end(self) -> pd.Timestamp | None:
        """Close of the last window (None for an empty calendar)."""
        return self.windows[-1][1] if self.windows else None


def shift_calendar(
    week_start: pd.Timestamp | str | date,
    hours_per_day: float,
    days_per_week: float,
    downtime: pd.DataFrame | None = None,
    *,
    shift_start_hour: float = DEFAULT_SHIFT_START_HOUR,
) -> WorkCalendar:
    """Working windows of one resource in the week starting ``week_start`` (a Monday).

    Days Monday .. Monday + days_per_week - 1 each open ``hours_per_day`` hours from
    ``shift_start_hour`` (moved earlier so the shift ends by midnight: 24 h days run 00:00-24:00);
    a fractional last day (``days_per_week`` = 5.5) opens that share of a day's hours. Planned
    downtime events (``downtime``: start, end and, if present, planned = True; unplanned events
    are left to the availability factor, as in :func:`weekly_capacity`) are cut out of the
    windows. So ``hours`` = hours_per_day x days_per_week - planned downtime inside the shifts.
    """
    week_start = pd.Timestamp(week_start).normalize()
    if week_start.weekday() != 0:
        raise CapacityError(f"week {week_start.date()} is not a Monday; weeks are ISO weeks named by their Monday")
    hpd, dpw = float(hours_per_day), float(days_per_week)
    if not (0.0 <= hpd <= 24.0) or not (0.0 <= dpw <= 7.0):
        raise CapacityError(f"hours_per_day {hours_per_day!r} must be 0-24 and days_per_week {days_per_week!r} 0-7")
    if not 0.0 <= shift_start_hour < 24.0:
        raise CapacityError(f"shift_start_hour must be 0-24, got {shift_start_hour}")
    start_h = min(float(shift_start_hour), 24.0 - hpd)
    windows = []
    full = int(np.floor(dpw + 1e-9))
    for day in range(int(np.ceil(dpw - 1e-9))):
        length = hpd if day < full else hpd * (dpw - full)
        if length <= 0:
            continue
        s = week_start + pd.Timedelta(days=day) + pd.Timedelta(hours=start_h)
        windows.append((s, s + pd.Timedelta(hours=length)))
    if downtime is not None and len(downtime):
        _require(downtime, "downtime", ["start", "end"])
        events = downtime
        if "planned" in events.columns:
            events = events[events["planned"].astype(bool)]
        cuts = sorted(zip(pd.to_datetime(events["start"]), pd.to_datetime(events["end"])))
        for cs, ce in cuts:
            if ce <= cs:
                continue
            kept = []
            for s, e in windows:
                if ce <= s or cs >= e:
                    kept.append((s, e))
                    continue
                if cs > s:
                    kept.append((s, cs))
                if ce < e:
                    kept.append((ce, e))
            windows = kept
    return WorkCalendar(tuple((pd.Timestamp(s), pd.Timestamp(e)) for s, e in windows if e > s))


# --------------------------------------------------------------------------- weekly capacity


def weekly_capacity(
    resources: pd.DataFrame,
    planned_units: pd.DataFrame,
    routings: pd.DataFrame,
    weeks: Sequence[date],
    *,
    downtime: pd.DataFrame | None = None,
    availability: Mapping[str, float] | pd.Series | None = None,
    changeover_hours: pd.DataFrame | None = None,
    calendar: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Available vs required hours per resource and week, load % and the weekly bottleneck.

    ``resources``: resource_id, type (machine | labor | tooling), hours_per_day, days_per_week.
    ``planned_units``: sku, week_start, units (the production plan; week_start any day of the
    week). ``routings``: sku, resource_id, units_per_hour (> 0). SKUs without a routing add no
    load (see :func:`unrouted_skus`). ``weeks``: the Mondays to report (the 13-week horizon).
    ``downtime``: events for planned downtime (see :func:`downtime_by_week`; unplanned events in
    the horizon are ignored - the availability factor covers them). ``availability``: factor
    per resource_id (0-1, from :func:`availability_factors`); default 1.0. ``changeover_hours``:
    resource_id, week_start, changeover_hours (e.g. from the weekly sequencer). ``calendar``: see
    :func:`calendar_hours`.

    Returns ``CAPACITY_COLUMNS``: resource_id, type, week_start, calendar_hours,
    planned_downtime_hours, availability_factor, available_hours, run_hours, changeover_hours,
    required_hours (= run + changeover), load_pct (inf when hours are required but none are
    available; 0 when none are required), is_bottleneck.
    """
    _require(resources, "resources", ["resource_id", "type", "hours_per_day", "days_per_week"])
    _require(routings, "routings", ["sku", "resource_id", "units_per_hour"])
    _require(planned_units, "planned_units", ["sku", "week_start", "units"])
    unknown = sorted(set(routings["resource_id"]) - set(resources["resource_id"]))
    if unknown:
        raise CapacityError(f"routings use resource(s) {unknown} that are not in the resources table")
    rate = pd.to_numeric(routings["units_per_hour"], errors="coerce")
    bad = routings[rate.isna() | (rate <= 0)]
    if len(bad):
        row = bad.iloc[0]
        raise CapacityError(
            f"routing of SKU {row['sku']} on {row['resource_id']} has units_per_hour "
            f"{row['units_per_hour']!r}; it must be > 0"
        )
    mondays = _mondays(weeks)
    out = calendar_hours(resources, mondays, calendar)
    out["type"] = out["resource_id"].map(resources.set_index("resource_id")["type"])

    out["planned_downtime_hours"] = 0.0
    if downtime is not None and len(downtime):
        dt = downtime_by_week(downtime, mondays)
        planned = dt.set_index(["resource_id", "week_start"])["planned_hours"]
        keys = pd.MultiIndex.from_frame(out[["resource_id", "week_start"]])
        out["planned_downtime_hours"] = planned.reindex(keys).fillna(0.0).to_numpy()
    factors = pd.Series(availability if availability is not None else {}, dtype=float)
    out["availability_factor"] = out["resource_id"].map(factors).fillna(1.0).clip(0.0, 1.0)
    open_hours = (out["calendar_hours"] - out["planned_downtime_hours"]).clip(lower=0.0)
    out["available_hours"] = open_hours * out["availability_factor"]

    plan = planned_units.assign(week_start=_to_monday(planned_units["week_start"]))
    plan = plan[plan["week_start"].isin(mondays)]
    load = plan.merge(routings[["sku", "resource_id", "units_per_hour"]], on="sku", how="inner")
    load["run_hours"] = load["units"].astype(float) / load["units_per_hour"].astype(float)
    run = load.groupby(["resource_id", "week_start"])["run_hours"].sum()
    keys = pd.MultiIndex.from_frame(out[["resource_id", "week_start"]])
    out["run_hours"] = run.reindex(keys).fillna(0.0).to_numpy()

    out["changeover_hours"] = 0.0
    if changeover_hours is not None and len(changeover_hours):
        _require(changeover_hours, "changeover_hours", ["resource_id", "week_start", "changeover_hours"])
        co = changeover_hours.assign(week_start=_to_monday(changeover_hours["week_start"]))
        co = co.groupby(["resource_id", "week_start"])["changeover_hours"].sum()
        out["changeover_hours"] = co.reindex(keys).fillna(0.0).to_numpy()
    out["required_hours"] = out["run_hours"] + out["changeover_hours"]
    out = out.sort_values(["week_start", "resource_id"], kind="stable").reset_index(drop=True)
    out = mark_load(out)
    return out[list(CAPACITY_COLUMNS)]


def mark_load(cap: pd.DataFrame) -> pd.DataFrame:
    """``load_pct`` and ``is_bottleneck`` from ``available_hours`` and ``required_hours`` (a copy; row
    order kept). load_pct = 100 x required / available, inf when hours are required but none are
    available, 0 when none are required; the bottleneck of a week is the resource with the highest
    load_pct above 0 (ties: the first resource_id), none in a week without load. One rule for the
    supply review, the labour-hours replacement and a scenario's changed hours."""
    out = cap.copy()
    avail = pd.to_numeric(out["available_hours"]).to_numpy(dtype=float)
    req = pd.to_numeric(out["required_hours"]).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["load_pct"] = np.where(
            avail > 0, 100.0 * req / np.where(avail > 0, avail, 1.0), np.where(req > 0, np.inf, 0.0)
        )
    out["is_bottleneck"] = False
    loaded = out[out["load_pct"] > 0]
    if len(loaded):
        top = (
            loaded.sort_values(["week_start", "load_pct", "resource_id"], ascending=[True, False, True], kind="stable")
            .groupby("week_start")
            .head(1)
            .index
        )
        out.loc[top, "is_bottleneck"] = True
    return out


def unrouted_skus(planned_units: pd.DataFrame, routings: pd.DataFrame) -> list[str]:
    """SKUs with planned units but no routing (they add no load in :func:`weekly_capacity`)."""
    planned = planned_units.loc[planned_units["units"] > 0, "sku"]
    return sorted(set(planned) - set(routings["sku"]))


# --------------------------------------------------------------------------- skills


def _employees(skills: pd.DataFrame) -> pd.DataFrame:
    """One row per employee: shift and hours_per_week (must agree across their rows)."""
    _require(skills, "skills", ["employee_id", "resource_id", "level", "shift", "hours_per_week"])
    per = skills.groupby("employee_id", sort=True).agg(
        shifts=("shift", "nunique"),
        shift=("shift", "first"),
        hours_min=("hours_per_week", "min"),
        hours_max=("hours_per_week", "max"),
    )
    two_shifts = per[per["shifts"] > 1]
    if len(two_shifts):
        raise CapacityError(
            f"employee {two_shifts.index[0]} is on more than one shift in the skills table; "
            f"give each employee one shift"
        )
    differs = per[(per["hours_max"] - per["hours_min"]).abs() > 1e-9]
    if len(differs):
        raise CapacityError(
            f"employee {differs.index[0]} has different hours_per_week on different rows "
            f"({differs['hours_min'].iloc[0]:g} vs {differs['hours_max'].iloc[0]:g}); "
            f"hours_per_week is the person's weekly hours"
        )
    bad_level = skills[~skills["level"].isin([0, 1, 2, 3])]
    if len(bad_level):
        row = bad_level.iloc[0]
        raise CapacityError(
            f"employee {row['employee_id']} has level {row['level']!r} on {row['resource_id']}; levels are 0-3"
        )
    return per[["shift", "hours_max"]].rename(columns={"hours_max": "hours_per_week"})


def skill_matrix(skills: pd.DataFrame, qualified_level: int = QUALIFIED_LEVEL) -> pd.DataFrame:
    """The skills table with a ``qualified`` flag (level >= ``qualified_level``).

    Returns employee_id, resource_id, level, shift, hours_per_week, qualified; sorted by
    resource_id, level (high first), employee_id.
    """
    _employees(skills)
    out = skills[["employee_id", "resource_id", "level", "shift", "hours_per_week"]].copy()
    out["qualified"] = out["level"] >= qualified_level
    return out.sort_values(
        ["resource_id", "level", "employee_id"], ascending=[True, False, True], kind="stable"
    ).reset_index(drop=True)


def qualified_hours(skills: pd.DataFrame, qualified_level: int = QUALIFIED_LEVEL) -> pd.DataFrame:
    """Gross qualified hours per resource and shift: the weekly hours of everyone qualified there.

    A person qualified on two resources counts on both (it is what each resource could draw on,
    not what it gets); :func:`cross_train_plan` allocates hours without double counting.
    Returns resource_id, shift, qualified_headcount, qualified_hours.
    """
    matrix = skill_matrix(skills, qualified_level)
    q = matrix[matrix["qualified"]]
    return q.groupby(["resource_id", "shift"], as_index=False).agg(
        qualified_headcount=("employee_id", "nunique"), qualified_hours=("hours_per_week", "sum")
    )


def labor_requirements(
    capacity: pd.DataFrame, skills: pd.DataFrame, crew_size: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Operator hours needed per resource-week on labour-type and skill-constrained resources.

    ``capacity``: output of :func:`weekly_capacity`. A resource counts when its type is 'labor' or
    it appears in the skills table (a machine needing a qualified operator). Operator hours =
    required_hours x crew_size (default 1 person per required hour).
    Returns resource_id, week_start, required_hours.
    """
    skilled = set(skills["resource_id"])
    rows = capacity[(capacity["type"] == "labor") | capacity["resource_id"].isin(skilled)]
    crew = rows["resource_id"].map(pd.Series(crew_size or {}, dtype=float)).fillna(1.0)
    return pd.DataFrame(
        {
            "resource_id": rows["resource_id"].to_numpy(),
            "week_start": rows["week_start"].to_numpy(),
            "required_hours": (rows["required_hours"] * crew).to_numpy(),
        }
    )


@dataclass
class CrossTrainPlan:
    """Result of :func:`cross_train_plan`.

    ``plan``: employee_id, shift, from_resource, to_resource, current_level, hours_unlocked (most
    hours per week the person then covers on to_resource), hours_lost_elsewhere (most hours per
    week taken from where they worked), week_needed (first week they are needed there).
    ``coverage``: resource_id, shift, week_start, required_hours, qualified_hours (gross),
    covered_hours_before, shortfall_hours_before, covered_hours_after, shortfall_hours_after.
    """

    plan: pd.DataFrame
    coverage: pd.DataFrame

    @property
    def uncovered_hours(self) -> float:
        """Operator hours per horizon still short after the plan."""
        return float(self.coverage["shortfall_hours_after"].sum())


PLAN_COLUMNS = (
    "employee_id",
    "shift",
    "from_resource",
    "to_resource",
    "current_level",
    "hours_unlocked",
    "hours_lost_elsewhere",
    "week_needed",
)
_TENTHS = 10  # hours are solved in tenths of an hour


def _split_by_shift(required: pd.DataFrame, shifts: list[str], shift_share: Mapping[str, float] | None) -> pd.DataFrame:
    if "shift" in required.columns:
        return required[["resource_id", "shift", "week_start", "required_hours"]].copy()
    share = dict(shift_share) if shift_share else {s: 1.0 / len(shifts) for s in shifts}
    total = sum(share.values())
    if total <= 0:
        raise CapacityError("shift_share must give some shift a positive share")
    parts = [
        required.assign(shift=s, required_hours=required["required_hours"] * (v / total)) for s, v in share.items()
    ]
    return pd.concat(parts, ignore_index=True)[["resource_id", "shift", "week_start", "required_hours"]]


def _solve_lexicographic(model, stages, time_limit_s: float, seed: int):
    """Minimise each objective in turn, fixing the ones before at their best value."""
    from ortools.sat.python import cp_model

    solver = None
    for expr in stages:
        if isinstance(expr, (int, float)):  # nothing to decide (e.g. no requirement rows)
            expr = 0 * model.new_constant(0)
        model.minimize(expr)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = int(seed)
        solver.parameters.max_deterministic_time = float(time_limit_s) / len(stages)
        solver.parameters.max_time_in_seconds = 3.0 * float(time_limit_s) / len(stages) + 5.0
        status = solver.solve(model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            raise CapacityError(
                f"the cross-training model found no allocation (status {solver.status_name(status)}); allow more time"
            )
        model.add(expr <= int(round(solver.objective_value)))
        model.clear_hints()  # warm-start the next stage from this solution
        for index in range(len(model.proto.variables)):
            var = model.get_int_var_from_proto_index(index)
            model.add_hint(var, solver.value(var))
    return solver


def cross_train_plan(
    skills: pd.DataFrame,
    required: pd.DataFrame,
    *,
    qualified_level: int = QUALIFIED_LEVEL,
    shift_share: Mapping[str, float] | None = None,
    by_shift: bool = True,
    time_limit_s: float = 10.0,
    seed: int = 0,
) -> CrossTrainPlan:
    """Who to cross-train on what so labour-constrained resources are covered.

    ``skills``: employee_id, resource_id, level (0-3), shift, hours_per_week (the person's weekly
    hours, repeated on their rows). ``required``: resource_id, week_start, required_hours
    (operator hours, e.g. :func:`labor_requirements`), optional shift. Without a shift column the
    hours are split across shifts by ``shift_share`` (default: evenly over the shifts in
    ``skills``); ``by_shift=False`` pools all shifts instead.

    Baseline: qualified people (level >= ``qualified_level``) are allocated to the required
    hours, each within their hours_per_week (CP-SAT; higher levels preferred). Where hours stay
    uncovered, a second model may train people (level < qualified on a resource of their shift)
    and re-allocate everyone, minimising in this order: uncovered hours; number of trainings
    (level-1 people preferred at equal count); hours taken from where people worked in the
    baseline. No resource may end with more shortfall than in the baseline. Hours are solved in
    tenths. Returns :class:`CrossTrainPlan`.
    """
    from ortools.sat.python import cp_model

    people = _employees(skills)
    _require(required, "required", ["resource_id", "week_start", "required_hours"])
    req = required.assign(week_start=_to_monday(required["week_start"]))
    if not by_shift:
        people = people.assign(shift="all")
        req = req.drop(columns=[c for c in ("shift",) if c in req.columns]).assign(shift="all")
    shifts = sorted(set(people["shift"]))
    req = _split_by_shift(req, shifts, shift_share)
    req = req.groupby(["resource_id", "shift", "week_start"], as_index=False)["required_hours"].sum()
    req = req[req["required_hours"] > 0].reset_index(drop=True)
    level = {(e, r): int(lv) for e, r, lv in skills[["employee_id", "resource_id", "level"]].itertuples(index=False)}
    gross = qualified_hours(skills.assign(shift=skills["employee_id"].map(people["shift"])), qualified_level)
    weeks = sorted(set(req["week_start"]))
    resources = sorted(set(req["resource_id"]))
    hours10 = {e: int(round(h * _TENTHS)) for e, h in people["hours_per_week"].items()}
    need = {(r, s, w): int(np.ceil(h * _TENTHS - 1e-9)) for r, s, w, h in req.itertuples(index=False)}

    def allocation_model(allow_training: bool, cap_slack: dict | None):
        model = cp_model.CpModel()
        x, y, slack = {}, {}, {}
        for e, row in people.iterrows():
            for r in resources:
                lv = level.get((e, r), 0)
                trainee = lv < qualified_level
                if trainee and not allow_training:
                    continue
                if not any((r, row["shift"], w) in need for w in weeks):
                    continue
                if trainee:
                    y[e, r] = model.new_bool_var(f"train_{e}_{r}")
                for w in weeks:
                    if (r, row["shift"], w) in need:
                        x[e, r, w] = model.new_int_var(0, hours10[e], f"x_{e}_{r}_{w:%Y%m%d}")
                        if trainee:
                            model.add(x[e, r, w] <= hours10[e] * y[e, r])
        for e in people.index:
            for w in weeks:
                terms = [v for (ee, _, ww), v in x.items() if ee == e and ww == w]
                if terms:
                    model.add(sum(terms) <= hours10[e])
        for (r, s, w), h in need.items():
            cap = h if cap_slack is None else cap_slack[r, s, w]
            slack[r, s, w] = model.new_int_var(0, cap, f"short_{r}_{s}_{w:%Y%m%d}")
            covered = [v for (e, rr, ww), v in x.items() if rr == r and ww == w and people.at[e, "shift"] == s]
            model.add(sum(covered) + slack[r, s, w] == h)
        return model, x, y, slack

    # baseline: qualified people only
    model0, x0, _, slack0 = allocation_model(False, None)
    prefer_level = sum((3 - level.get((e, r), 0)) * v for (e, r, _), v in x0.items())
    solver0 = _solve_lexicographic(model0, [sum(slack0.values()), prefer_level], time_limit_s / 2, seed)
    base = {k: solver0.value(v) for k, v in x0.items()}
    short0 = {k: solver0.value(v) for k, v in slack0.items()}

    after, short1, y_val = dict(base), dict(short0), {}
    if any(short0.values()):
        model1, x1, y1, slack1 = allocation_model(True, short0)
        lost = []
        for k, v in x1.items():
            if base.get(k, 0) > 0:
                d = model1.new_int_var(0, base[k], f"lost_{k[0]}_{k[1]}_{k[2]:%Y%m%d}")
                model1.add(d >= base[k] - v)
                lost.append(d)
        trainings = (len(y1) + 1) * sum(y1.values()) + sum(v for (e, r), v in y1.items() if level.get((e, r), 0) == 0)
        solver1 = _solve_lexicographic(model1, [sum(slack1.values()), trainings, sum(lost)], time_limit_s / 2, seed)
        after = {k: solver1.value(v) for k, v in x1.items()}
        short1 = {k: solver1.value(v) for k, v in slack1.items()}
        y_val = {k: solver1.value(v) for k, v in y1.items()}

    rows = []
    for (e, r_to), trained in sorted(y_val.items()):
        if not trained:
            continue
        moved = {w: after.get((e, r_to, w), 0) for w in weeks}
        used = [w for w in weeks if moved[w] > 0]
        if not used:
            continue
        decrease = {
            r: sum(max(0, base.get((e, r, w), 0) - after.get((e, r, w), 0)) for w in weeks)
            for r in resources
            if r != r_to
        }
        weekly_lost = max(
            sum(max(0, base.get((e, r, w), 0) - after.get((e, r, w), 0)) for r in resources if r != r_to) for w in weeks
        )
        if any(decrease.values()):
            from_resource = max(sorted(decrease), key=lambda r: decrease[r])
        else:  # spare hours: name the person's main station (highest level, then resource id)
            own = skills[(skills["employee_id"] == e) & (skills["resource_id"] != r_to)]
            own = own.sort_values(["level", "resource_id"], ascending=[False, True], kind="stable")
            from_resource = own["resource_id"].iloc[0] if len(own) else None
        rows.append(
            {
                "employee_id": e,
                "shift": people.at[e, "shift"],
                "from_resource": from_resource,
                "to_resource": r_to,
                "current_level": level.get((e, r_to), 0),
                "hours_unlocked": max(moved.values()) / _TENTHS,
                "hours_lost_elsewhere": weekly_lost / _TENTHS,
                "week_needed": min(used),
            }
        )
    plan = pd.DataFrame(rows, columns=list(PLAN_COLUMNS))

    cov = req.copy()
    gross_map = gross.set_index(["resource_id", "shift"])["qualified_hours"]
    cov["qualified_hours"] = [float(gross_map.get((r, s), 0.0)) for r, s in zip(cov["resource_id"], cov["shift"])]
    keys = list(zip(cov["resource_id"], cov["shift"], cov["week_start"]))
    cov["shortfall_hours_before"] = [short0[k] / _TENTHS for k in keys]
    cov["covered_hours_before"] = [(need[k] - short0[k]) / _TENTHS for k in keys]
    cov["shortfall_hours_after"] = [short1[k] / _TENTHS for k in keys]
    cov["covered_hours_after"] = [(need[k] - short1[k]) / _TENTHS for k in keys]
    cov = cov[
        [
            "resource_id",
            "shift",
            "week_start",
            "required_hours",
            "qualified_hours",
            "covered_hours_before",
            "shortfall_hours_before",
            "covered_hours_after",
            "shortfall_hours_after",
        ]
    ]
    return CrossTrainPlan(
        plan=plan.sort_values(["week_needed", "to_resource", "employee_id"], kind="stable").reset_index(drop=True),
        coverage=cov.sort_values(["week_start", "resource_id", "shift"], kind="stable").reset_index(drop=True),
    )
