"""Master production schedule (MPS) -> production sequence: the plan of record's make quantities,
sequenced per critical resource and week on each resource's shift calendar. Pure pandas; no Dagster.

Flow (one plan that agrees with itself)::

    forecast --changeover_estimate--> capacity --> plan of record (make_units = the MPS)
                                                            |
                                                            v
                                  production_sequence + sequence_summary (this module)

* :func:`changeover_estimate` - rough-cut changeover hours per resource-week *before* the plan
  exists (the demand forecast of made SKUs, sequenced per week), so the capacity table and the
  plan can reserve hours for changeovers.
* :func:`mps_from_plan` - the MPS: units to make per SKU-week (the plan's ``make_units``; for an
  older plan without it, supply of ``make`` / ``frozen`` rows of SKUs that are made).
* :func:`minimum_run_units` - the smallest lot worth running per SKU (plan lot sizing and the
  sequencer's partial-lot rule).
* :func:`sequence_mps` - one job per SKU-week and resource with exactly the MPS quantity (never
  split into smaller lots), on every sequenced resource: the declared constraint(s), the
  measured bottleneck (:func:`critical_resources`) and the alternates the plan offloaded their
  work to (:func:`sequenced_resources`), each at its own routing rate. Bought SKUs
  are never sequenced. Times follow the resource's shift calendar (hours per day x days per week
  less planned downtime, ``capacity.shift_calendar``); what does not fit is reported as
  unscheduled, never stretched.
* :func:`sequenced_resources` also brings in every machine or tool that shares a routing with a
  sequenced one, and :mod:`~sop_pipeline.analytics.synchronize` turns the per-resource sequences
  into one timetable in which an operation holds its line and its tooling together.
* :func:`quantity_breaks`, :func:`bought_breaks`, :func:`hours_breaks` - the coherence checks,
  each naming the resource, SKU and week that fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sop_pipeline.analytics.capacity import DEFAULT_SHIFT_START_HOUR, shift_calendar
from sop_pipeline.analytics.columns import require_columns
from sop_pipeline.analytics.sequencing import sequence_week

DEFAULT_MIN_RUN_QUANTILE = 0.10  # of a SKU's historical production order sizes
DEFAULT_MIN_RUN_ORDERS = 3  # fewer orders than this: one run-hour instead (too little history)
DEFAULT_MIN_RUN_HOURS = 1.0
UNITS_TOLERANCE = 1e-6  # relative (at least 1e-6 units): float noise is not a break

SEQUENCE_COLUMNS = [
    "resource_id",
    "week_start",
    "position",
    "job_id",
    "sku",
    "setup_key",
    "qty",
    "scheduled_qty",
    "unscheduled_qty",
    "min_run_units",
    "run_hours",
    "units_per_hour",
    "changeover_minutes",
    "changeover_start",
    "start",
    "end",
    "due",
    "late",
    "tardiness_hours",
    "fits",
    "operation_id",
    "held_with",
    "wait_hours",
]
SUMMARY_COLUMNS = [
    "resource_id",
    "week_start",
    "jobs",
    "planned_units",
    "scheduled_units",
    "unscheduled_units",
    "jobs_unscheduled",
    "jobs_below_min_run",
    "run_hours",
    "available_hours",
    "required_hours",
    "wait_hours",
    "fits",
    "changeover_hours_fifo",
    "changeover_hours_optimized",
    "oee_fifo",
    "oee_optimized",
    "late_orders_optimized",
    "late_orders_fifo",
    "tardiness_hours_optimized",
    "key_order_optimal",
]


class MpsError(ValueError):
    """MPS inputs that cannot be used; the message names the column, SKU or resource."""


def _require(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    require_columns(frame, columns, name, error=MpsError)


def _close(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.abs(a - b) <= UNITS_TOLERANCE * np.maximum(1.0, np.abs(b))


# --------------------------------------------------------------------------- minimum run


def minimum_run_units(
    routings: pd.DataFrame,
    production_orders: pd.DataFrame | None = None,
    *,
    resources: pd.DataFrame | None = None,
    quantile: float = DEFAULT_MIN_RUN_QUANTILE,
    min_orders: int = DEFAULT_MIN_RUN_ORDERS,
    fallback_hours: float = DEFAULT_MIN_RUN_HOURS,
    overrides: Mapping[str, float] | pd.Series | None = None,
) -> pd.Series:
    """Minimum run (lot) per SKU in units: the smallest quantity worth a setup.

    * History first: the ``quantile`` (default 10th percentile) of the SKU's production order
      sizes (``production_orders``: sku, planned_qty, optional status; cancelled orders and
      sizes <= 0 are ignored) when it has at least ``min_orders`` orders.
    * Otherwise ``fallback_hours`` (default 1) of run time at the SKU's slowest routing rate
      (``routings``: sku, resource_id, units_per_hour), counting only machine routings when
      ``resources`` (resource_id, type) says which resources are machines and the SKU has one.
    * ``overrides`` (sku -> units) win over both: a planner's setting.

    Returns a Series ``sku -> units`` (name ``min_run_units``) for every SKU in the routings,
    the order history or the overrides; a SKU with neither history nor a routing is absent.
    """
    _require(routings, "routings", ["sku", "resource_id", "units_per_hour"])
    if not 0.0 <= quantile <= 1.0:
        raise MpsError(f"quantile must be 0-1, got {quantile}")
    if fallback_hours < 0:
        raise MpsError(f"fallback_hours must be >= 0, got {fallback_hours}")
    rate = routings.assign(units_per_hour=pd.to_numeric(routings["units_per_hour"], errors="coerce"))
    rate = rate[rate["units_per_hour"] > 0]
    if resources is not None and len(resources):
        _require(resources, "resources", ["resource_id", "type"])
        machines = set(resources.loc[resources["type"].astype(str) == "machine", "resource_id"])
        on_machine = rate["resource_id"].isin(machines)
        has_machine = rate.loc[on_machine, "sku"].unique()
        rate = rate[on_machine | ~rate["sku"].isin(has_machine)]
    out = (rate.groupby("sku")["units_per_hour"].min() * float(fallback_hours)).astype(float)
    if production_orders is not None and len(production_orders):
        _require(production_orders, "production_orders", ["sku", "planned_qty"])
        po = production_orders
        if "status" in po.columns:
            po = po[po["status"].astype(str).str.lower() != "cancelled"]
        qty = pd.to_numeric(po["planned_qty"], errors="coerce")
        po = po.assign(planned_qty=qty)[qty > 0]
        stats = po.groupby("sku")["planned_qty"].agg(["count", lambda s: float(s.quantile(quantile))])
        stats.columns = ["orders", "q"]
        hist = stats.loc[stats["orders"] >= int(min_orders), "q"]
        out = pd.concat([out[~out.index.isin(hist.index)], hist])
    if overrides is not None and len(overrides):
        ov = pd.Series(overrides, dtype=float)
        if (ov < 0).any():
            raise MpsError(f"minimum run override for {ov[ov < 0].index[0]} is negative")
        out = pd.concat([out[~out.index.isin(ov.index)], ov])
    out.index.name = "sku"
    return out.sort_index().rename("min_run_units")


# --------------------------------------------------------------------------- MPS and resources


def bought_skus(source: pd.Series) -> set[str]:
    """SKUs sourced ``buy`` (``analytics.plan.sourcing``: item master make_or_buy overridden by
    the latest approved make_vs_buy decision)."""
    return set(source[source.astype(str).str.lower() == "buy"].index)


def mps_from_plan(plan: pd.DataFrame, source: pd.Series | None = None) -> pd.DataFrame:
    """The master production schedule: units to make per SKU x week from the plan of record.

    ``plan``: sku, week_start and ``make_units`` (the plan's MPS column: supply of made SKUs,
    frozen rows included, 0 for bought ones). A plan without ``make_units`` (older cycles) is
    read as supply_units of rows whose supply_source is ``make`` or ``frozen`` and whose SKU is
    made after decisions (``source``: sku -> make/buy, see ``analytics.plan.sourcing``; missing
    SKUs count as made). Returns sku, week_start (Timestamp), make_units, supply_source (when
    the plan has it), one row per plan row.
    """
    _require(plan, "plan", ["sku", "week_start"])
    out = plan.copy()
    out["week_start"] = pd.to_datetime(out["week_start"])
    if "make_units" in out.columns:
        out["make_units"] = pd.to_numeric(out["make_units"], errors="coerce").fillna(0.0)
    else:
        _require(plan, "plan", ["supply_units", "supply_source"])
        made = out["supply_source"].astype(str).isin(["make", "frozen"])
        if source is not None:
            made &= ~out["sku"].isin(bought_skus(source))
        out["make_units"] = np.where(made, pd.to_numeric(out["supply_units"], errors="coerce").fillna(0.0), 0.0)
    cols = ["sku", "week_start", "make_units"] + (["supply_source"] if "supply_source" in out.columns else [])
    return out[cols].reset_index(drop=True)


def mps_by_resource(mps: pd.DataFrame, routings: pd.DataFrame, offloads: pd.DataFrame | None) -> pd.DataFrame:
    """The MPS per resource when the plan offloaded work to alternate resources.

    ``mps``: sku, week_start, make_units (:func:`mps_from_plan`). ``routings``: the primary routing
    (sku, resource_id). ``offloads``: sku, week_start, from_resource_id, to_resource_id, units (the
    plan's ``plan_offloads``). Each primary resource of a SKU makes the SKU-week's make_units less
    what was offloaded from it; each alternate makes what was offloaded to it. Returns sku,
    week_start, resource_id, make_units (+ supply_source when ``mps`` has it), for
    :func:`sequence_mps` and :func:`quantity_breaks`.
    """
    m = mps.assign(week_start=pd.to_datetime(mps["week_start"]))
    routed = routings[["sku", "resource_id"]].drop_duplicates()
    out = m.merge(routed, on="sku")
    if offloads is not None and len(offloads):
        o = offloads.assign(week_start=pd.to_datetime(offloads["week_start"]))
        left = o.groupby(["sku", "week_start", "from_resource_id"])["units"].sum()
        keys = pd.MultiIndex.from_frame(out[["sku", "week_start", "resource_id"]])
        out["make_units"] = out["make_units"] - left.reindex(keys).fillna(0.0).to_numpy()
        moved = o.groupby(["sku", "week_start", "to_resource_id"], as_index=False)["units"].sum()
        moved = moved.rename(columns={"to_resource_id": "resource_id", "units": "make_units"})
        extra = [c for c in out.columns if c not in moved.columns]
        moved = moved.merge(m[["sku", "week_start", *[c for c in extra if c in m.columns]]], on=["sku", "week_start"])
        out = pd.concat([out, moved], ignore_index=True)
    cols = ["sku", "week_start", "resource_id", "make_units"] + (["supply_source"] if "supply_source" in out else [])
    return out[cols].sort_values(["resource_id", "week_start", "sku"], kind="stable", ignore_index=True)


def critical_resources(resources: pd.DataFrame, capacity: pd.DataFrame | None = None) -> list[str]:
    """Resources the production sequence covers: every declared constraint (``is_constraint``)
    and the measured bottleneck - the resource with the highest mean load_pct in the capacity
    table (``capacity``: resource_id, load_pct; the plan of record uses the same bottleneck)."""
    _require(resources, "resources", ["resource_id", "is_constraint"])
    flag = resources["is_constraint"].astype(str).str.lower().isin(["true", "1", "yes"])
    out = list(resources.loc[flag, "resource_id"])
    if capacity is not None and len(capacity):
        _require(capacity, "capacity", ["resource_id", "load_pct"])
        load = pd.to_numeric(capacity["load_pct"], errors="coerce").replace([np.inf], 1e12)
        mean = capacity.assign(load_pct=load).groupby("resource_id")["load_pct"].mean()
        mean = mean[mean > 0]
        if len(mean):
            top = sorted(mean.index[mean == mean.max()])[0]
            if top not in out:
                out.append(top)
    return out


LABOUR_TYPES = ("labor", "labour")  # pools of people: many jobs at once, never one unary timetable


def unary_resources(resources: pd.DataFrame) -> list[str]:
    """Resources that do one job at a time (machines, tooling): all but labour pools."""
    if "type" not in resources.columns:
        return list(resources["resource_id"])
    labour = resources["type"].astype(str).str.lower().isin(LABOUR_TYPES)
    return list(resources.loc[~labour, "resource_id"])


def sequenced_resources(
    resources: pd.DataFrame,
    capacity: pd.DataFrame | None = None,
    offloads: pd.DataFrame | None = None,
    routings: pd.DataFrame | None = None,
) -> list[str]:
    """The critical resources (:func:`critical_resources`), then every alternate resource the plan
    offloaded their work to (``offloads``: from_resource_id, to_resource_id, as ``plan_offloads``),
    in name order: a SKU-week the plan moved off a sequenced resource is made on its alternate, and
    the MPS = sequence rule holds only if that resource's units are sequenced too. With
    ``routings`` (sku, resource_id), then every machine or tool (:func:`unary_resources`) that
    shares a routing with a sequenced one, in name order, until none is added: a tool shared by
    two lines is timed with both, or the synchronized sequence would let it run two jobs at once."""
    out = critical_resources(resources, capacity)
    known = set(resources["resource_id"])
    if offloads is not None and len(offloads):
        _require(offloads, "offloads", ["from_resource_id", "to_resource_id"])
        moved = offloads[offloads["from_resource_id"].isin(out) & offloads["to_resource_id"].isin(known)]
        out += sorted(set(moved["to_resource_id"]) - set(out))
    if routings is not None and len(routings):
        unary = set(unary_resources(resources))
        while True:
            skus = set(routings.loc[routings["resource_id"].isin(out), "sku"])
            partners = routings.loc[routings["sku"].isin(skus) & routings["resource_id"].isin(unary), "resource_id"]
            new = sorted(set(partners) - set(out))
            if not new:
                break
            out += new
    return out


# --------------------------------------------------------------------------- weekly sequencing


@dataclass
class MpsSequence:
    """``jobs``: SEQUENCE_COLUMNS, one row per job (resource x week x SKU). ``summary``:
    SUMMARY_COLUMNS, one row per resource-week with jobs. ``excluded``: sku, week_start,
    make_units, reason - MPS rows left out (bought SKUs; SKUs with no routing on any sequenced
    resource are simply not on them and are not listed)."""

    jobs: pd.DataFrame
    summary: pd.DataFrame
    excluded: pd.DataFrame


def _sequence_weeks(
    units: pd.DataFrame,
    routings: pd.DataFrame,
    resources: pd.DataFrame,
    weeks: Sequence,
    resource_ids: Iterable[str],
    *,
    changeovers: pd.DataFrame | None,
    downtime: pd.DataFrame | None,
    dues: pd.DataFrame | None,
    current_setup: Mapping[str, object] | None,
    oee: pd.DataFrame | None,
    min_run: pd.Series | None,
    shift_start_hour: float,
    time_limit_s: float,
    seed: int,
) -> tuple[list[pd.DataFrame], list[dict]]:
    """Sequence ``units`` (sku, week_start, units) per resource and week; (job frames, summaries)."""
    res = resources.set_index("resource_id")
    co = (
        changeovers
        if changeovers is not None
        else pd.DataFrame(columns=["resource_id", "from_key", "to_key", "minutes"])
    )
    units = units.assign(week_start=pd.to_datetime(units["week_start"]))
    units = units[units["units"] > UNITS_TOLERANCE]
    due_map = {}
    if dues is not None and len(dues):
        d = dues.assign(week_start=pd.to_datetime(dues["week_start"]), due=pd.to_datetime(dues["due"]))
        due_map = {(s, w): t for s, w, t in d[["sku", "week_start", "due"]].itertuples(index=False)}
    perf = oee.set_index("resource_id") if oee is not None and len(oee) else pd.DataFrame()
    frames, summaries = [], []
    for r in resource_ids:
        if r not in res.index:
            raise MpsError(f"resource {r!r} is not in the resources table")
        rr = routings[(routings["resource_id"] == r) & (pd.to_numeric(routings["units_per_hour"]) > 0)]
        rr = rr.drop_duplicates("sku")
        # a per-resource MPS (mps_by_resource: work offloaded to alternates) lists each resource's units
        on_r = units[units["resource_id"] == r].drop(columns="resource_id") if "resource_id" in units else units
        matrix = co[co["resource_id"] == r] if "resource_id" in co.columns else co
        matrix = matrix.rename(columns={"changeover_minutes": "minutes"})
        has_matrix = len(matrix) > 0
        events = downtime[downtime["resource_id"] == r] if downtime is not None and len(downtime) else None
        p = float(perf.at[r, "performance"]) if r in perf.index and pd.notna(perf.at[r, "performance"]) else 1.0
        q = float(perf.at[r, "quality"]) if r in perf.index and pd.notna(perf.at[r, "quality"]) else 1.0
        setup = (current_setup or {}).get(r) if has_matrix else None
        setup = None if setup is None or (isinstance(setup, float) and np.isnan(setup)) else setup
        for week in weeks:
            wk = pd.Timestamp(week)
            cal = shift_calendar(
                wk,
                float(res.at[r, "hours_per_day"]),
                float(res.at[r, "days_per_week"]),
                events,
                shift_start_hour=shift_start_hour,
            )
            wk_units = on_r[on_r["week_start"] == wk].merge(
                rr[["sku", "units_per_hour", "setup_family"]]
                if "setup_family" in rr.columns
                else rr[["sku", "units_per_hour"]],
                on="sku",
            )
            if wk_units.empty:
                continue
            default_due = cal.end if cal.end is not None else wk + pd.Timedelta(days=7)
            skus = wk_units["sku"].tolist()
            jobs = pd.DataFrame(
                {
                    "job_id": [f"{r}-{wk:%Y%m%d}-{s}" for s in skus],
                    "sku": skus,
                    "setup_key": (
                        wk_units["setup_family"]
                        if "setup_family" in wk_units.columns
                        else pd.Series([None] * len(skus))
                    ).to_numpy(),
                    "qty": wk_units["units"].astype(float).to_numpy(),
                    "run_hours": (wk_units["units"] / wk_units["units_per_hour"]).astype(float).to_numpy(),
                    "due": [pd.Timestamp(due_map.get((s, wk), default_due)) for s in skus],
                    "min_run_units": [float(min_run.get(s, 0.0)) if min_run is not None else 0.0 for s in skus],
                    "units_per_hour": wk_units["units_per_hour"].astype(float).to_numpy(),
                }
            )
            result = sequence_week(
                jobs,
                matrix,
                wk,
                calendar=cal,
                current_setup=setup,
                default_changeover_minutes=None if has_matrix else 0.0,
                performance=p,
                quality=q,
                time_limit_s=time_limit_s,
                seed=seed,
            )
            out = result.jobs.assign(resource_id=r, week_start=wk).rename(columns={"fits_in_week": "fits"})
            frames.append(out)
            below = (jobs["qty"] < jobs["min_run_units"] - UNITS_TOLERANCE).sum()
            summaries.append({"resource_id": r, "week_start": wk, **result.summary, "jobs_below_min_run": int(below)})
            if has_matrix:
                setup = out["setup_key"].iloc[-1]
    return frames, summaries


def sequence_mps(
    mps: pd.DataFrame,
    routings: pd.DataFrame,
    resources: pd.DataFrame,
    weeks: Sequence,
    resource_ids: Iterable[str],
    *,
    bought: Iterable[str] = (),
    changeovers: pd.DataFrame | None = None,
    downtime: pd.DataFrame | None = None,
    dues: pd.DataFrame | None = None,
    current_setup: Mapping[str, object] | None = None,
    oee: pd.DataFrame | None = None,
    min_run: pd.Series | None = None,
    shift_start_hour: float = DEFAULT_SHIFT_START_HOUR,
    time_limit_s: float = 2.0,
    seed: int = 0,
) -> MpsSequence:
    """Sequence the MPS on each resource of ``resource_ids`` for each week of ``weeks``.

    ``mps``: sku, week_start, make_units (:func:`mps_from_plan`), or with a resource_id column the
    units per resource (:func:`mps_by_resource`: work offloaded to alternate resources; then
    ``routings`` must list the alternates' rates too). ``routings``: sku, resource_id,
    units_per_hour, optional setup_family - a SKU-week is a job on every listed resource its
    routing uses, with that resource's rate: run hours = make_units / units_per_hour.
    ``resources``: resource_id, hours_per_day, days_per_week (the shift calendar, from
    ``shift_start_hour``). ``bought``: SKUs never sequenced (reported in ``excluded``).
    ``changeovers``: resource_id, from_key, to_key, minutes (a resource without rows is sequenced
    by due date with zero changeovers). ``downtime``: resource_id, start, end, planned (planned
    events are cut out of the shifts). ``dues``: sku, week_start, due (else the close of the
    week's last shift). ``current_setup``: resource_id -> setup key at the start of the first
    week (later weeks start from the previous week's last job). ``oee``: resource_id,
    performance, quality (historical, for the OEE columns). ``min_run``: sku -> units (the
    partial-lot rule of :func:`~sop_pipeline.analytics.sequencing.sequence_week`; a job below
    it is counted in ``jobs_below_min_run``). Each job carries exactly the MPS quantity (``qty``);
    ``scheduled_qty`` is the part inside the shifts and ``unscheduled_qty`` what did not fit.
    """
    _require(mps, "mps", ["sku", "week_start", "make_units"])
    _require(routings, "routings", ["sku", "resource_id", "units_per_hour"])
    _require(resources, "resources", ["resource_id", "hours_per_day", "days_per_week"])
    bought = set(bought)
    m = mps.assign(
        week_start=pd.to_datetime(mps["week_start"]),
        units=pd.to_numeric(mps["make_units"], errors="coerce").fillna(0.0),
    )
    m = m[m["week_start"].isin([pd.Timestamp(w) for w in weeks])]
    excluded = m[m["sku"].isin(bought) & (m["units"] > UNITS_TOLERANCE)]
    excluded = excluded.assign(reason="bought SKU (item master or approved make_vs_buy): never sequenced")[
        ["sku", "week_start", "make_units", "reason"]
    ].reset_index(drop=True)
    m = m[~m["sku"].isin(bought)]
    frames, summaries = _sequence_weeks(
        m[["sku", "week_start", "units"] + (["resource_id"] if "resource_id" in m.columns else [])],
        routings,
        resources,
        weeks,
        list(resource_ids),
        changeovers=changeovers,
        downtime=downtime,
        dues=dues,
        current_setup=current_setup,
        oee=oee,
        min_run=min_run,
        shift_start_hour=shift_start_hour,
        time_limit_s=time_limit_s,
        seed=seed,
    )
    jobs = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SEQUENCE_COLUMNS)
    summary = pd.DataFrame(summaries) if summaries else pd.DataFrame(columns=SUMMARY_COLUMNS)
    return MpsSequence(
        jobs=jobs.reindex(columns=SEQUENCE_COLUMNS), summary=summary.reindex(columns=SUMMARY_COLUMNS), excluded=excluded
    )


def changeover_estimate(
    planned: pd.DataFrame,
    routings: pd.DataFrame,
    resources: pd.DataFrame,
    weeks: Sequence,
    *,
    changeovers: pd.DataFrame,
    downtime: pd.DataFrame | None = None,
    dues: pd.DataFrame | None = None,
    current_setup: Mapping[str, object] | None = None,
    shift_start_hour: float = DEFAULT_SHIFT_START_HOUR,
    time_limit_s: float = 2.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Rough-cut changeover hours per resource-week, before the plan exists.

    ``planned``: sku, week_start, units - the volume expected on the lines (the demand forecast
    of made SKUs). Every resource with a changeover matrix (``changeovers``: resource_id,
    from_key, to_key, minutes) gets the same weekly sequence as the final one (batches by setup
    family, ATSP, due-date repair), one job per SKU-week; its optimized changeover hours are the
    estimate. A changeover holds every resource of the operation's routing (the format tooling
    is changed with the line, the operators do it; the synchronized sequence,
    :mod:`~sop_pipeline.analytics.synchronize`, times it so), so each other resource routed for
    a SKU reserves the hours of that SKU's changeovers too. Returns ``ESTIMATE_COLUMNS``:
    resource_id, week_start, jobs, setup_families, run_hours (of the resource's own sequence),
    changeover_hours and changeovers_of (the resources whose changeovers these are) - the capacity
    table reserves these hours; the final sequence of the plan reports its own in
    ``sequence_summary``.
    """
    _require(planned, "planned", ["sku", "week_start", "units"])
    _require(changeovers, "changeovers", ["resource_id", "from_key", "to_key"])
    with_matrix = [r for r in resources["resource_id"] if r in set(changeovers["resource_id"])]
    frames, summaries = _sequence_weeks(
        planned,
        routings,
        resources,
        weeks,
        with_matrix,
        changeovers=changeovers,
        downtime=downtime,
        dues=dues,
        current_setup=current_setup,
        oee=None,
        min_run=None,
        shift_start_hour=shift_start_hour,
        time_limit_s=time_limit_s,
        seed=seed,
    )
    if not summaries:
        return pd.DataFrame(columns=ESTIMATE_COLUMNS)
    jobs = pd.concat(frames)
    families = jobs.groupby(["resource_id", "week_start"])["setup_key"].nunique().rename("setup_families")
    out = pd.DataFrame(summaries).rename(columns={"changeover_hours_optimized": "changeover_hours"})
    out = out.merge(families.reset_index(), on=["resource_id", "week_start"], how="left")
    out["changeovers_of"] = out["resource_id"]
    # a changeover holds every resource of the operation's routing (the format tooling is changed
    # with the line, the operators do it): those resources reserve the same hours
    routed = routings[["sku", "resource_id"]].drop_duplicates().rename(columns={"resource_id": "held_id"})
    held = jobs[["resource_id", "week_start", "sku", "changeover_minutes"]].merge(routed, on="sku")
    held = held[(held["held_id"] != held["resource_id"]) & (held["changeover_minutes"] > 0)]
    if len(held):
        held = held.groupby(["held_id", "week_start", "resource_id"], as_index=False).agg(
            jobs=("sku", "size"), changeover_hours=("changeover_minutes", "sum")
        )
        held = held.assign(changeover_hours=held["changeover_hours"] / 60.0, changeovers_of=held["resource_id"])
        held = held.drop(columns="resource_id").rename(columns={"held_id": "resource_id"})
        out = pd.concat([out, held], ignore_index=True)
    return merge_estimates(out)


ESTIMATE_COLUMNS = [
    "resource_id",
    "week_start",
    "jobs",
    "setup_families",
    "run_hours",
    "changeover_hours",
    "changeovers_of",
]


def merge_estimates(estimate: pd.DataFrame) -> pd.DataFrame:
    """One row per resource-week of :func:`changeover_estimate` rows (e.g. the parts of one call per
    resource): changeover hours summed over the resources whose changeovers hold it
    (``changeovers_of``: those resources, comma-separated); jobs, setup families and run hours are
    those of its own sequence (empty for a resource only held by others' changeovers)."""
    if estimate.empty:
        return pd.DataFrame(columns=ESTIMATE_COLUMNS)
    e = estimate.assign(week_start=pd.to_datetime(estimate["week_start"]))
    own = e[e["changeovers_of"] == e["resource_id"]]
    keys = ["resource_id", "week_start"]
    total = e.groupby(keys, as_index=False, sort=False).agg(
        changeover_hours=("changeover_hours", "sum"),
        changeovers_of=("changeovers_of", lambda v: ", ".join(sorted(set(v)))),
    )
    out = total.merge(own[[*keys, "jobs", "setup_families", "run_hours"]], on=keys, how="left")
    # own sequences first (in the order given), then resources only held by others' changeovers
    rank = {r: i for i, r in enumerate(dict.fromkeys(own["resource_id"]))}
    held_only = sorted(set(e["resource_id"]) - set(rank))
    rank.update({r: len(rank) + i for i, r in enumerate(held_only)})
    out = out.assign(_r=out["resource_id"].map(rank)).sort_values(["_r", "week_start"], kind="stable")
    return out[ESTIMATE_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------- coherence checks


def quantity_breaks(
    sequence: pd.DataFrame,
    mps: pd.DataFrame,
    routings: pd.DataFrame,
    resource_ids: Iterable[str],
    weeks: Sequence | None = None,
) -> pd.DataFrame:
    """Sequenced quantity = plan make quantity, per sequenced resource, SKU and week.

    For every resource in ``resource_ids`` and every SKU routed on it, the units in the
    sequence (sum of ``qty``) must equal the MPS ``make_units`` of the SKU-week (of the SKU-week
    on that resource when ``mps`` has a resource_id column: :func:`mps_by_resource`) (``weeks``: the
    weeks compared, default every week of the MPS). Returns the rows that differ:
    resource_id, sku, week_start, plan_make_units, sequenced_units.
    """
    cols = ["resource_id", "sku", "week_start", "plan_make_units", "sequenced_units"]
    m = mps.assign(week_start=pd.to_datetime(mps["week_start"]))
    if weeks is not None:
        m = m[m["week_start"].isin([pd.Timestamp(w) for w in weeks])]
    if "resource_id" in m.columns:  # per-resource MPS (mps_by_resource)
        plan = m[m["resource_id"].isin(list(resource_ids))][["resource_id", "sku", "week_start", "make_units"]]
    else:
        routed = routings[routings["resource_id"].isin(list(resource_ids))][["resource_id", "sku"]].drop_duplicates()
        plan = m.merge(routed, on="sku")[["resource_id", "sku", "week_start", "make_units"]]
    plan = plan.groupby(["resource_id", "sku", "week_start"], as_index=False)["make_units"].sum()
    seq = sequence[["resource_id", "sku", "week_start", "qty"]].astype({"resource_id": object, "sku": object})
    seq = seq.assign(
        week_start=pd.to_datetime(seq["week_start"]).astype("datetime64[ns]"), qty=seq["qty"].astype(float)
    )
    seq = seq.groupby(["resource_id", "sku", "week_start"], as_index=False)["qty"].sum()
    plan = plan.astype({"resource_id": object, "sku": object}).assign(
        week_start=pd.to_datetime(plan["week_start"]).astype("datetime64[ns]")
    )
    both = plan.merge(seq, on=["resource_id", "sku", "week_start"], how="outer")
    both = both.assign(
        plan_make_units=both["make_units"].astype(float).fillna(0.0),
        sequenced_units=both["qty"].astype(float).fillna(0.0),
    )
    bad = ~_close(both["sequenced_units"], both["plan_make_units"])
    return both.loc[bad, cols].sort_values(["resource_id", "week_start", "sku"]).reset_index(drop=True)


def bought_breaks(sequence: pd.DataFrame, bought: Iterable[str]) -> pd.DataFrame:
    """Sequence rows of bought SKUs: resource_id, sku, week_start, sequenced_units."""
    bought = set(bought)
    cols = ["resource_id", "sku", "week_start", "sequenced_units"]
    if sequence.empty:
        return pd.DataFrame(columns=cols)
    hit = sequence[sequence["sku"].isin(bought)]
    return hit.assign(sequenced_units=hit["qty"].astype(float))[cols].reset_index(drop=True)


def hours_breaks(summary: pd.DataFrame, exempt_weeks: Iterable = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hours against the shift calendar per sequenced resource-week.

    Returns (plan_over, overflow): ``plan_over`` - resource-weeks whose planned run hours alone
    exceed the calendar's available hours (the plan itself does not fit; weeks in
    ``exempt_weeks``, e.g. an approved freeze window, are left out); ``overflow`` - resource-weeks
    where run + changeover hours exceed the available hours, so units were left unscheduled.
    Columns resource_id, week_start, run_hours, changeover_hours, available_hours, unscheduled_units.
    """
    cols = ["resource_id", "week_start", "run_hours", "changeover_hours", "available_hours", "unscheduled_units"]
    if summary.empty:
        return pd.DataFrame(columns=cols), pd.DataFrame(columns=cols)
    s = summary.assign(
        week_start=pd.to_datetime(summary["week_start"]),
        changeover_hours=summary["changeover_hours_optimized"].astype(float),
    )
    exempt = {pd.Timestamp(w) for w in exempt_weeks}
    tol = 1e-6 * np.maximum(1.0, s["available_hours"].astype(float))
    over = (s["run_hours"].astype(float) > s["available_hours"].astype(float) + tol) & ~s["week_start"].isin(exempt)
    overflow = (s["unscheduled_units"].astype(float) > UNITS_TOLERANCE) | (
        s["run_hours"].astype(float) + s["changeover_hours"] > s["available_hours"].astype(float) + tol
    )
    return s.loc[over, cols].reset_index(drop=True), s.loc[overflow, cols].reset_index(drop=True)


def describe_breaks(breaks: pd.DataFrame, what: str, limit: int = 5) -> str:
    """One line naming the first resources, SKUs and weeks that break a rule (for asset checks)."""
    if breaks.empty:
        return f"{what}: holds on every row"
    parts = []
    for r in breaks.head(limit).to_dict("records"):
        name = " ".join(str(r[c]) for c in ("resource_id", "sku") if c in r)
        values = " ".join(
            f"{c}={r[c]:,.2f}"
            for c in r
            if c not in ("resource_id", "sku", "week_start") and isinstance(r[c], (int, float, np.number))
        )
        issue = f": {r['issue']}" if isinstance(r.get("issue"), str) else ""
        parts.append(
            f"{name} week of {pd.Timestamp(r['week_start']).date()}" + (f" {values}" if values else "") + issue
        )
    more = f" (+{len(breaks) - limit} more)" if len(breaks) > limit else ""
    return f"{what}: {len(breaks)} row(s) break it: {'; '.join(parts)}{more}"
