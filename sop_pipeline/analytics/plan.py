"""The plan of record: consensus demand, a capacity-feasible supply plan, projected inventory,
and the decisions that changed each number. Pure pandas; no Dagster.

Units: quantities in the item's base unit per ISO week (Monday), hours per week, money in the
extracts' currency.

Decisions applied (approved = yes only; `decision_effects` reports each one):
* **substitution** (subject ``"X->Y"``, value ``"through YYYY-MM-DD"`` or empty = whole horizon):
  demand of X in the covered weeks moves to Y.
* **make_vs_buy** (subject SKU, value ``buy`` or ``make``): ``buy`` supplies the SKU from its
  supplier instead of the plant (no constraint hours); ``make`` the other way round.
* **freeze_window** (value N weeks): supply of horizon weeks 1..N is locked to the previous
  cycle's plan where one exists (the demand may still change; the inventory absorbs it).
* **service_target**: applied upstream, through the safety stock (analytics.safety_stock).
* **expedite** (subject an expedite id of the expedites extract, an open order ``PO_ID`` /
  ``PO_ID/LINE``, or ``sku:SKU`` for an expedited new order; value its cost, optionally
  ``"<cost> by YYYY-MM-DD"``): pulls supply in. An open order's scheduled receipt moves to the expedite's week (the expedite date, else week 1);
  with no open order the SKU's supplier lead time is waived from that week (an expedited new
  order). The cost is added to the row of the SKU and week (``expedite_cost``). An expedite
  whose week lies before the horizon is history (its cost is in the actuals): no effect.

Supply netting per SKU and week: scheduled receipts (open purchase orders, at their promised
week; overdue ones in week 1) arrive first, then required = max(0, demand + safety stock -
projected inventory carried in). A bought SKU's new orders arrive no earlier than horizon week
1 + floor(lead time in weeks) (an order released at the start of week 1 with a 4.5-week lead
time arrives in week 5): inside the lead time only open orders and expedites supply it, and a
shortfall there shows as service risk with the note to expedite. Made items are then fitted,
week by week in priority order (ABC class, then margin per bottleneck hour), into the hours left
on **every** critical resource of their routing (machines, labour pools, tooling: a unit fits
only when each resource it needs has the time); what does not fit moves to the next week with
free hours (``moved``) and, past the horizon, is ``cut``. The plan never exceeds available hours
on any resource: overloaded weeks say what was moved or cut and which resource was full.

Build-ahead: before anything is moved later or cut, the plan makes it earlier. A made SKU's
shortfall in week j (what a full week could not make) is placed in the latest earlier week k
that has hours left on every resource of its routing (as late as possible: the least stock
carried), in the plan's priority order, and the weeks are planned again with those units on top
of week k's own lot (``built_ahead_units``; the note says which week they are for). The units
are held for week j: the weeks between do not net them against their own need, so they keep
their own production. Never in a frozen week; never more than ``build_ahead_weeks`` before week j
(a third of the SKU's shelf life, ``plan_inputs.build_ahead_weeks``: a dairy item of 45 days is
built at most 2 weeks ahead); never where carrying a unit from k to j costs more than being short
of it (KPI_DEFINITIONS "Service-target economics": unit cost x ``holding_rate`` x weeks / 52 >
(price - cost) x ``goodwill_factor``); at least a unit (the whole shortfall when smaller) where
the SKU makes that week anyway, a minimum run where it does not. Planning again moves other SKUs'
lots, so this repeats (at most ``BUILD_AHEAD_ROUNDS``) until a round places nothing; units built
ahead for a week that has since got the room are made in their own week again. The
check ``no_avoidable_shortfall`` (:func:`avoidable_shortfalls`, blocking) lists any shortfall left with
free hours before it.

Usable stock: the opening inventory is the usable stock only (available lots, not expired at the
start of week 1; the caller passes it). A usable lot whose expiry falls inside the horizon leaves
the projection at the start of its expiry week (``expired_units``) as far as demand has not
consumed it by then (first-expiry-first-out: demand draws the oldest stock first), and the
netting replaces it. Inventory balance (backlog form, negative allowed)::

    projected(w) = projected(w-1) + supply(w) + receipts(w) - demand(w) - expired(w)

Lot sizes: a made SKU's supply in a week is never below its minimum run (``min_lot_units``):
a smaller need is rounded up to the minimum (the surplus is carried as inventory), and a week
whose free hours fit less than the minimum makes nothing and moves the need on. ``make_units``
is the master production schedule: the supply of made SKUs (frozen weeks included), 0 for
bought SKUs; the production sequence schedules exactly these quantities.

Money per SKU and week: ``revenue`` = demand x selling price; ``margin`` = demand x (selling
price - unit cost), the gross margin at standard cost (finance's COGS = revenue - margin);
``net_margin`` = margin - ``expedite_cost`` - ``offload_cost``, the margin after the extra supply
costs the plan itself takes on: approved expedites landing in the week, and the extra cost of the
units it makes on an alternate resource (``offload_cost``, the sum of the week's offloads'
``extra_cost``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sop_pipeline.analytics import decisions as decision_log_lib, offload as offload_lib
from sop_pipeline.analytics.calendar import week_start
from sop_pipeline.analytics.safety_stock import DEFAULT_GOODWILL_FACTOR, DEFAULT_HOLDING_RATE

# The note of a week whose safety stock comes from safety_stock_weekly (a seasonal item's)
SEASONAL_SS_NOTE = "safety stock follows the season (the forecast of its protection interval)"
# Relative tolerance for the plan's flags (stockout, below safety stock): 1e-6 of the safety stock,
# at least 1e-6 units, so float noise can never flip a flag between two runs.
FLAG_TOLERANCE_UNITS = 1e-6

PLAN_COLUMNS = [
    "sku",
    "family",
    "week_start",
    "horizon_week",
    "demand_units",
    "selling_price",
    "revenue",
    "margin",
    "net_margin",
    "supply_units",
    "make_units",
    "receipts_units",
    "expired_units",
    "expedite_cost",
    "offload_cost",
    "supply_source",
    "resource_id",
    "constraint_hours",
    "moved_in_units",
    "moved_out_units",
    "cut_units",
    "built_ahead_units",
    "projected_inventory_units",
    "safety_stock_units",
    "service_risk",
    "decision_ids",
    "notes",
]


# Build-ahead: at most this many rounds of "place the shortfalls in earlier free hours, plan again"
# (each round places every shortfall it can; it stops as soon as a round places nothing)
BUILD_AHEAD_ROUNDS = 40
# a build-ahead places at least this many units in a week the SKU makes anyway (or the whole
# shortfall when it is smaller), a minimum run in a week it does not
BUILD_AHEAD_MIN_UNITS = 1.0


@dataclass
class _Pass:
    """The arrays (SKU x week) of one week-by-week planning pass."""

    supply: np.ndarray
    moved_in: np.ndarray
    moved_out: np.ndarray
    cut: np.ndarray
    proj: np.ndarray
    expired: np.ndarray
    blocked: np.ndarray
    is_frozen: np.ndarray
    binding: np.ndarray
    hours_left: np.ndarray
    offloads: list
    built: np.ndarray

    @property
    def short(self) -> np.ndarray:
        """The need a week could not make (moved to the next week, or cut in the last)."""
        return self.moved_out + self.cut


def _build_ahead_tranches(
    state: _Pass,
    order: np.ndarray,
    on_constraint: np.ndarray,
    per_unit: np.ndarray,
    min_lot: np.ndarray,
    reachable: np.ndarray,
    holding_week: np.ndarray,
    shortage_cost: np.ndarray,
    max_ahead: np.ndarray,
) -> np.ndarray:
    """Units to make ahead, rows (sku, week built, week for, units), in the hours ``state`` left free, for the shortfalls of
    ``state``: SKUs in priority order; a SKU's shortfalls in week order, each placed in the latest
    earlier week that has hours on every resource of its routing (as late as possible: the least
    holding), never in a frozen week, never where carrying a unit costs more than being short of
    it (``holding_week`` x weeks carried > ``shortage_cost``), and at least a minimum run in a
    week the SKU does not make. Units placed before week j also cover the later weeks of the same
    run of short weeks (a shortfall carries as backlog until a week makes it), so there a week's
    shortfall counts only what earlier placements do not cover."""
    n, w = state.supply.shape
    added = np.zeros((n, w))
    rows: list[tuple[int, int, int, float]] = []
    free = state.hours_left.copy()
    short = state.short
    for i in order:
        if not on_constraint[i] or not (short[i] > 1e-6).any():
            continue
        covered = 0.0
        for j in range(1, w):
            if short[i, j] <= 1e-6:  # the week made its need and any backlog: the stock built ahead is used
                covered = 0.0
                continue
            rest = short[i, j] - covered
            if rest <= 1e-6:
                continue
            for k in range(j - 1, max(int(reachable[i]), j - int(max_ahead[i]), 0) - 1, -1):
                if rest <= 1e-6:
                    break
                if state.is_frozen[i, k] or holding_week[i] * (j - k) > shortage_cost[i]:
                    continue
                fits = offload_lib.units_that_fit(free[:, k], per_unit[i])
                making = state.supply[i, k] + added[i, k] > 1e-6
                units = min(fits, rest if making else max(rest, min_lot[i]))
                least = min(BUILD_AHEAD_MIN_UNITS, rest) if making else max(min_lot[i], BUILD_AHEAD_MIN_UNITS)
                if units < least - 1e-9:
                    continue
                added[i, k] += units
                free[:, k] -= units * per_unit[i]
                covered += units
                rest -= units
                rows.append((i, k, j, units))
    return np.array(rows, dtype=float).reshape(-1, 4)


def _needed_tranches(state: _Pass, tranches: np.ndarray, per_unit: np.ndarray, min_lot: np.ndarray) -> np.ndarray:
    """Which build-ahead tranches (rows sku, week built, week for, units) are still needed in
    ``state``: one is not when the week it is for now has the hours to make its units there (a
    minimum run where the SKU makes nothing that week); the hours are taken as each is dropped,
    latest tranche first."""
    room = state.hours_left.copy()
    keep = np.ones(len(tranches), dtype=bool)
    for t in range(len(tranches) - 1, -1, -1):
        i, j, units = int(tranches[t, 0]), int(tranches[t, 2]), float(tranches[t, 3])
        fits = offload_lib.units_that_fit(room[:, j], per_unit[i])
        need = units if state.supply[i, j] > 1e-6 else max(units, min_lot[i])
        if fits >= need * (1 + 1e-9) + 1e-9:
            keep[t] = False
            room[:, j] -= need * per_unit[i]
    return keep


@dataclass(frozen=True)
class DecisionEffect:
    decision_id: str
    kind: str
    effect: str


def _approved(decisions: pd.DataFrame, kind: str) -> pd.DataFrame:
    if decisions is None or decisions.empty:
        return pd.DataFrame(columns=["decision_id", "kind", "subject", "value", "approved", "decided_at"])
    rows = decisions[(decisions["kind"] == kind) & (decisions["approved"].astype(str).str.lower() == "yes")]
    return rows.sort_values("decided_at", kind="stable")


def apply_substitutions(demand: pd.DataFrame, decisions: pd.DataFrame) -> tuple[pd.DataFrame, list[DecisionEffect]]:
    """Move demand X -> Y for approved substitution decisions (see module docstring).

    `demand`: ``[sku, week_start, demand_units]`` (+ any columns; ``decision_ids`` is extended).
    """
    demand = demand.copy()
    if "decision_ids" not in demand:
        demand["decision_ids"] = ""
    effects = []
    for row in _approved(decisions, "substitution").itertuples():
        src, _, dst = str(row.subject).partition("->")
        src, dst = src.strip(), dst.strip()
        value = str(row.value or "").strip().lower()
        until = pd.Timestamp(value.removeprefix("through").strip()) if value.startswith("through") else None
        mask = (demand.sku == src) & (True if until is None else pd.to_datetime(demand.week_start) <= until)
        moved = demand.loc[mask, ["week_start", "demand_units"]]
        if moved.empty or not (demand.sku == dst).any():
            effects.append(
                DecisionEffect(
                    row.decision_id,
                    "substitution",
                    f"no effect this cycle: no demand of {src} in the horizon"
                    f"{' before ' + until.date().isoformat() if until is not None else ''}"
                    if moved.empty
                    else f"no effect: {dst} is not in the plan",
                )
            )
            continue
        by_week = moved.groupby("week_start").demand_units.sum()
        demand.loc[mask, "demand_units"] = 0.0
        target = (demand.sku == dst) & demand.week_start.isin(by_week.index)
        demand.loc[target, "demand_units"] += demand.loc[target, "week_start"].map(by_week).to_numpy()
        demand.loc[mask | target, "decision_ids"] = _add_id(demand.loc[mask | target, "decision_ids"], row.decision_id)
        effects.append(
            DecisionEffect(
                row.decision_id, "substitution", f"moved {by_week.sum():,.0f} units of demand from {src} to {dst}"
            )
        )
    return demand, effects


def _add_id(ids: pd.Series, decision_id: str) -> pd.Series:
    return ids.where(ids.str.len() == 0, ids + ",").fillna("") + decision_id


def sourcing(items: pd.DataFrame, decisions: pd.DataFrame) -> tuple[pd.Series, dict[str, str], list[DecisionEffect]]:
    """make/buy per SKU after approved make_vs_buy decisions; returns (source, decision per sku, effects)."""
    source = items.set_index("sku")["make_or_buy"].fillna("make").str.lower()
    changed, effects = {}, []
    for row in _approved(decisions, "make_vs_buy").itertuples():
        sku, value = str(row.subject).strip(), str(row.value).strip().lower()
        if sku in source.index and value in ("make", "buy"):
            before = source[sku]
            source[sku] = value
            changed[sku] = row.decision_id
            effects.append(
                DecisionEffect(
                    row.decision_id,
                    "make_vs_buy",
                    f"{sku} is {'bought' if value == 'buy' else 'made'} "
                    f"(was {'bought' if before == 'buy' else 'made'})",
                )
            )
    return source, changed, effects


def sourcing_as_of(items: pd.DataFrame, decisions: pd.DataFrame, as_of) -> pd.Series:
    """make/buy per SKU (index sku) after the approved make_vs_buy decisions of cycles on or before
    ``as_of``, exactly as the plan of record reads them (`sourcing`); ``decisions``: the staged
    decision log (stg_sop__decisions columns, `decisions.decisions_as_of`)."""
    return sourcing(items[["sku", "make_or_buy"]], decision_log_lib.decisions_as_of(decisions, as_of))[0]


def freeze_weeks(decisions: pd.DataFrame) -> tuple[int, str | None]:
    """Weeks frozen by the latest approved freeze_window decision (0 when none)."""
    rows = _approved(decisions, "freeze_window")
    if rows.empty:
        return 0, None
    last = rows.iloc[-1]
    try:
        return max(0, int(float(last.value))), last.decision_id
    except ValueError:
        return 0, None


#: The value of an expedite decision that cancels the approved expedites of its subject decided
#: before it (the pipeline proposes it for a pull-in the plan does not need).
EXPEDITE_CANCEL = "cancel"
PULL_COLUMNS = ["decision_id", "sku", "units", "week_start", "original_week_start", "cost"]
_EXPEDITE_VALUE = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]+)?)?\s*(?:by\s+(\d{4}-\d{2}-\d{2}))?\s*$", re.I)


@dataclass(frozen=True)
class Expedites:
    """Approved expedites turned into plan inputs (see `apply_expedites`)."""

    receipts: pd.DataFrame  # scheduled receipts after pull-ins: sku, week_start, units, order_id
    lead_time_waived: dict  # sku -> first week_start from which new supply may arrive
    costs: pd.DataFrame  # sku, week_start, expedite_cost, decision_id
    effects: list
    # one row per order pulled in: decision_id, sku, units, week_start (pulled to), original_week_start,
    # cost (the expedite's)
    pulls: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PULL_COLUMNS))


def apply_expedites(
    decisions: pd.DataFrame, receipts: pd.DataFrame, expedites: pd.DataFrame | None, weeks: list
) -> Expedites:
    """Approved expedite decisions -> pulled-in receipts, waived lead times and costs (module docstring).

    Args:
        decisions: the decision log extract (approved yes/no); only kind ``expedite`` is read.
        receipts: scheduled receipts ``[sku, week_start, units, order_id]`` (order_id ``PO/LINE``).
        expedites: the expedites extract ``[expedite_id, sku, order_id, expedite_date, cost]`` or None.
        weeks: the horizon's week starts, ascending.
    """
    receipts = receipts.copy()
    receipts["week_start"] = pd.to_datetime(receipts["week_start"])
    weeks = [pd.Timestamp(w) for w in weeks]
    lookup = expedites.set_index("expedite_id") if expedites is not None and len(expedites) else None
    waived, costs, effects, pulls = {}, [], [], []

    def week_of(day) -> pd.Timestamp | None:
        monday = pd.Timestamp(week_start(pd.Timestamp(day)))
        return max(monday, weeks[0]) if monday <= weeks[-1] else None

    approved = _approved(decisions, "expedite")
    subjects = approved.subject.astype(str).str.strip()
    is_cancel = approved.value.astype(str).str.strip().str.lower().eq(EXPEDITE_CANCEL)
    for row, subject, cancel in zip(approved.itertuples(), subjects, is_cancel):
        if cancel:  # voids the approved expedites of the same subject decided before it
            voided = approved[~is_cancel & (subjects == subject) & (approved.decided_at <= row.decided_at)]
            effects.append(
                DecisionEffect(
                    row.decision_id,
                    "expedite",
                    f"cancels {', '.join(voided.decision_id)} ({subject}): no pull-in, no expedite cost"
                    if len(voided)
                    else f"no effect: no approved expedite of {subject} before it to cancel",
                )
            )
            continue
        cancelled_by = approved[is_cancel & (subjects == subject) & (approved.decided_at >= row.decided_at)]
        if len(cancelled_by):
            effects.append(
                DecisionEffect(
                    row.decision_id,
                    "expedite",
                    f"cancelled by {cancelled_by.decision_id.iloc[0]}: no pull-in, no expedite cost",
                )
            )
            continue
        match = _EXPEDITE_VALUE.match(str(row.value or ""))
        cost = float(match.group(1).replace(",", "")) if match and match.group(1) else 0.0
        target_day = match.group(2) if match and match.group(2) else None
        if lookup is not None and subject in lookup.index:
            event = lookup.loc[subject]
            sku, order = str(event.sku), str(event.order_id or "")
            cost = cost or float(event.cost or 0.0)
            target_day = target_day or event.expedite_date
        elif subject.lower().startswith("sku:"):
            sku, order = subject[4:].strip(), ""
        else:
            sku, order = None, subject
        ids = receipts.order_id.astype(str)
        order_rows = (
            (ids.str.startswith(order + "/") | (ids == order)) if order else pd.Series(False, index=receipts.index)
        )
        if sku is None:
            if not order_rows.any():
                effects.append(
                    DecisionEffect(
                        row.decision_id, "expedite", f"no effect: {subject} is neither an expedite nor an open order"
                    )
                )
                continue
            sku = str(receipts.loc[order_rows, "sku"].iloc[0])
        target = week_of(target_day) if target_day is not None and not pd.isna(target_day) else weeks[0]
        if target is None or pd.Timestamp(target_day or weeks[0]) < weeks[0] - pd.Timedelta(days=7):
            effects.append(
                DecisionEffect(
                    row.decision_id,
                    "expedite",
                    "no effect this cycle: the expedite date is before the horizon (its cost is in the actuals)",
                )
            )
            continue
        order_rows &= receipts.sku.astype(str) == sku
        later = order_rows & (receipts.week_start > target)
        if order_rows.any():
            units = float(receipts.loc[later, "units"].sum())
            if units:
                pulls.append((row.decision_id, sku, units, target, receipts.loc[later, "week_start"].min(), cost))
            receipts.loc[later, "week_start"] = target
            what = (
                f"pulled {units:,.0f} units of {sku} ({order}) in to the week of {target.date()}"
                if units
                else f"{order} already arrives by the week of {target.date()}: cost only"
            )
        else:
            waived[sku] = min(waived.get(sku, target), target)
            what = f"{sku}: lead time waived from the week of {target.date()} (expedited new order)"
        costs.append((sku, target, cost, row.decision_id))
        effects.append(DecisionEffect(row.decision_id, "expedite", f"{what}; expedite cost {cost:,.0f}"))
    cost_frame = pd.DataFrame(costs, columns=["sku", "week_start", "expedite_cost", "decision_id"])
    return Expedites(receipts, waived, cost_frame, effects, pd.DataFrame(pulls, columns=PULL_COLUMNS))


def expedites_not_needed(plan: pd.DataFrame, pulls: pd.DataFrame) -> pd.DataFrame:
    """The pull-ins the plan did not need: those where the SKU's projected stock less the pulled
    units stays at or above its safety stock in every week from the week it was pulled to up to
    (not including) the order's own week - without the expedite nothing would have run below
    safety stock before the order arrived anyway. ``pulls``: `Expedites.pulls`. Returns its rows
    (``PULL_COLUMNS``) with ``lowest_cover_units`` (the least projected stock less the pulled units
    over safety stock in those weeks)."""
    cols = [*PULL_COLUMNS, "lowest_cover_units"]
    if pulls is None or pulls.empty:
        return pd.DataFrame(columns=cols)
    rows = plan.assign(week_start=pd.to_datetime(plan.week_start))
    out = []
    for p in pulls.itertuples():
        span = rows[
            (rows.sku == p.sku)
            & (rows.week_start >= pd.Timestamp(p.week_start))
            & (rows.week_start < pd.Timestamp(p.original_week_start))
        ]
        if span.empty:
            continue
        cover = span.projected_inventory_units - p.units - span.safety_stock_units.fillna(0.0)
        if (cover >= -1e-6).all():
            out.append((*(getattr(p, c) for c in PULL_COLUMNS), float(cover.min())))
    return pd.DataFrame(out, columns=cols)


def _capacity_inputs(
    skus: list,
    weeks: list,
    routings: pd.DataFrame | None,
    resource_hours: pd.DataFrame | None,
    alternates: pd.DataFrame | None = None,
):
    """(resource ids, hours per unit [sku x resource], available hours [resource x week]); the
    resources are those of the primary routing and the alternates (``offload.alternate_routes``)."""
    if routings is None:
        return [], np.zeros((len(skus), 0)), np.zeros((0, len(weeks)))
    routings = routings[pd.to_numeric(routings.units_per_hour, errors="coerce") > 0]
    extra = set(alternates.to_resource_id.astype(str)) if alternates is not None and len(alternates) else set()
    resources = sorted(set(routings.resource_id.astype(str)) | extra)
    sku_pos = {s: i for i, s in enumerate(skus)}
    res_pos = {r: k for k, r in enumerate(resources)}
    week_pos = {pd.Timestamp(w): j for j, w in enumerate(weeks)}
    per_unit = np.zeros((len(skus), len(resources)))
    for r in routings.itertuples():
        if r.sku in sku_pos:
            per_unit[sku_pos[r.sku], res_pos[str(r.resource_id)]] += 1.0 / float(r.units_per_hour)
    hours = np.full((len(resources), len(weeks)), np.inf)
    if resource_hours is not None and len(resource_hours):
        h = resource_hours.assign(week_start=pd.to_datetime(resource_hours.week_start))
        for r in h.itertuples():
            if str(r.resource_id) in res_pos and r.week_start in week_pos:
                hours[res_pos[str(r.resource_id)], week_pos[r.week_start]] = max(float(r.hours), 0.0)
    return resources, per_unit, hours


def supply_plan(*args, **kwargs) -> pd.DataFrame:
    """The plan of record's rows (see :func:`supply_plan_and_offloads`, which also returns the
    offloads to alternate resources)."""
    return supply_plan_and_offloads(*args, **kwargs)[0]


def supply_plan_and_offloads(
    demand: pd.DataFrame,
    items: pd.DataFrame,
    *,
    opening_inventory: pd.Series,
    safety_stock: pd.Series,
    source: pd.Series,
    priority: pd.Series,
    routings: pd.DataFrame | None = None,
    resource_hours: pd.DataFrame | None = None,
    frozen_supply: pd.DataFrame | None = None,
    frozen_weeks: int = 0,
    receipts: pd.DataFrame | None = None,
    lead_time_weeks: pd.Series | None = None,
    lead_time_waived: dict | None = None,
    expedite_costs: pd.DataFrame | None = None,
    expiring: pd.DataFrame | None = None,
    min_lot_units: pd.Series | None = None,
    alternates: pd.DataFrame | None = None,
    safety_stock_weekly: pd.DataFrame | None = None,
    holding_rate: float = DEFAULT_HOLDING_RATE,
    goodwill_factor: float = DEFAULT_GOODWILL_FACTOR,
    build_ahead_weeks: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Week-by-week netting and capacity fit (module docstring); returns (plan rows, offloads).

    Args:
        demand: ``[sku, week_start, horizon_week, demand_units, decision_ids]`` for the horizon.
        items: ``[sku, family, unit_price, unit_cost]``. Revenue and margin use the demand's
            ``selling_price`` column where it has one (the forecast's price), else ``unit_price``.
        opening_inventory: units available per sku at the start of week 1.
        safety_stock: target safety stock per sku (units).
        safety_stock_weekly: ``[sku, week_start, safety_stock_units]``: the target in those weeks
            instead (a seasonal item's, ``plan_inputs.seasonal_safety_stock``).
        source: ``make`` / ``buy`` per sku.
        priority: smaller = served first when capacity is short (per sku).
        routings / resource_hours: the critical resources: ``[sku, resource_id, units_per_hour]``
            and ``[resource_id, week_start, hours]`` (None: no capacity data, nothing is cut).
            A made SKU's units fit when every resource of its routing has the hours; the row's
            ``resource_id`` is the routing resource that binds (least hours left),
            ``constraint_hours`` the hours it uses there.
        frozen_supply: ``[sku, week_start, supply_units]`` of the previous cycle's plan.
        frozen_weeks: horizon weeks 1..N take the frozen supply.
        receipts: scheduled receipts ``[sku, week_start, units]`` (open orders; summed per week).
        lead_time_weeks: supplier lead time per sku (weeks); bought SKUs get new supply only from
            horizon week 1 + floor(lead time). None: no lead-time limit.
        lead_time_waived: sku -> week_start from which an approved expedite waives the lead time.
        expedite_costs: ``[sku, week_start, expedite_cost, decision_id]`` of approved expedites.
        expiring: ``[sku, week_start, units]``: usable opening stock that expires in that horizon
            week (part of ``opening_inventory``); it leaves the projection that week unless
            demand used it up before (module docstring).
        min_lot_units: minimum run per made sku (units); None or missing: no minimum.
        alternates: usable alternate resources (``offload.alternate_routes``: sku,
            from_resource_id, to_resource_id, priority, to_units_per_hour, extra_cost_per_unit).
            What does not fit a SKU's primary routing in a week is offloaded to them (priority
            order, within the hours left after every SKU's primary load) before it is moved or
            cut; the minimum run applies to primary + offloaded units together. The second
            return value lists the offloads (``offload.OFFLOAD_COLUMNS``); the row's note says
            what was offloaded and ``constraint_hours`` counts only the hours on ``resource_id``.
        holding_rate, goodwill_factor: the build-ahead's economics (module docstring): a unit is
            not carried where unit cost x holding_rate x weeks / 52 > (price - cost) x goodwill.
        build_ahead_weeks: the most weeks a SKU is built ahead of the week it is for
            (``plan_inputs.build_ahead_weeks``: a third of its shelf life); missing: the horizon.
            0 for every SKU is the plan without build-ahead.

    The plan's ``attrs`` say how the build-ahead went: ``build_ahead_rounds`` (rounds that placed
    units) and ``build_ahead_settled`` (False when it stopped at ``BUILD_AHEAD_ROUNDS``).
    """
    d = demand.merge(items[["sku", "family", "unit_price", "unit_cost"]], on="sku", how="left")
    d = d.sort_values(["sku", "week_start"]).reset_index(drop=True)
    weeks = sorted(d.week_start.unique())
    skus = sorted(d.sku.unique())
    dem = d.pivot(index="sku", columns="week_start", values="demand_units").reindex(index=skus, columns=weeks).fillna(0)
    ss = np.repeat(safety_stock.reindex(skus).fillna(0.0).to_numpy(float)[:, None], len(weeks), axis=1)
    phased_weeks = np.zeros(ss.shape, dtype=bool)
    if safety_stock_weekly is not None and len(safety_stock_weekly):
        phased = safety_stock_weekly.assign(week_start=pd.to_datetime(safety_stock_weekly["week_start"]))
        phased = phased.pivot_table(index="sku", columns="week_start", values="safety_stock_units", aggfunc="last")
        phased = phased.reindex(index=skus, columns=pd.to_datetime(weeks)).to_numpy(float)
        phased_weeks = np.isfinite(phased)
        ss = np.where(phased_weeks, phased, ss)
    inv = opening_inventory.reindex(skus).fillna(0.0).to_numpy().astype(float)
    src = source.reindex(skus).fillna("make").to_numpy()
    resources, per_unit, hours_left = _capacity_inputs(skus, weeks, routings, resource_hours, alternates)
    alt_routes = offload_lib.route_index(alternates, skus, resources) if alternates is not None else {}
    available = hours_left.copy()
    on_constraint = (src == "make") & (per_unit > 0).any(axis=1)
    frozen = {}
    if frozen_supply is not None and frozen_weeks:
        for r in frozen_supply.itertuples():
            frozen[(r.sku, pd.Timestamp(r.week_start))] = float(r.supply_units)
    order = np.argsort(priority.reindex(skus).fillna(np.inf).to_numpy(), kind="stable")

    n, w = len(skus), len(weeks)
    week_ts = [pd.Timestamp(wk) for wk in weeks]
    arriving = np.zeros((n, w))
    if receipts is not None and len(receipts):
        r = receipts.assign(week_start=pd.to_datetime(receipts["week_start"]))
        r = r.groupby(["sku", "week_start"], as_index=False)["units"].sum()
        r = r[r.sku.isin(skus) & r.week_start.isin(week_ts)]
        sku_pos = {s: i for i, s in enumerate(skus)}
        week_pos = {t: j for j, t in enumerate(week_ts)}
        arriving[[sku_pos[x] for x in r.sku], [week_pos[x] for x in r.week_start]] = r.units.to_numpy(float)
    # first horizon week (index) in which a new order of the SKU can arrive
    reachable = np.zeros(n, dtype=int)
    if lead_time_weeks is not None:
        lt = lead_time_weeks.reindex(skus).to_numpy(dtype=float)
        reachable = np.where((src == "buy") & np.isfinite(lt), np.floor(np.nan_to_num(lt)).astype(int), 0)
        for sku, wk in (lead_time_waived or {}).items():
            if sku in skus:
                i = skus.index(sku)
                reachable[i] = min(reachable[i], sum(t < pd.Timestamp(wk) for t in week_ts))
    # opening stock by expiry week (FEFO): column j expires at the start of week j, the last
    # column never expires inside the horizon
    sku_index = {s: i for i, s in enumerate(skus)}
    week_index = {t: j for j, t in enumerate(week_ts)}
    old_by_expiry = np.zeros((n, w + 1))
    old_by_expiry[:, w] = np.maximum(inv, 0.0)
    if expiring is not None and len(expiring):
        e = expiring.assign(week_start=pd.to_datetime(expiring["week_start"]))
        e = e[e.sku.isin(sku_index) & e.week_start.isin(week_index)]
        for r in e.groupby(["sku", "week_start"], as_index=False)["units"].sum().itertuples():
            i, j = sku_index[r.sku], week_index[r.week_start]
            units = min(float(r.units), old_by_expiry[i, w])
            old_by_expiry[i, j] += units
            old_by_expiry[i, w] -= units
    min_lot = np.zeros(n)
    if min_lot_units is not None and len(min_lot_units):
        min_lot = np.where(src == "make", min_lot_units.reindex(skus).fillna(0.0).to_numpy(float), 0.0)
    opening = inv.copy()
    lots_opening = old_by_expiry.copy()
    unit_value = d.drop_duplicates("sku").set_index("sku").reindex(skus)
    shortage_cost = (
        np.maximum(unit_value.unit_price - unit_value.unit_cost, 0.0).fillna(0.0).to_numpy(float) * goodwill_factor
    )
    holding_week = (unit_value.unit_cost.fillna(0.0).to_numpy(float) * holding_rate) / 52.0
    max_ahead = np.full(n, float(w))
    if build_ahead_weeks is not None and len(build_ahead_weeks):
        max_ahead = build_ahead_weeks.reindex(skus).fillna(float(w)).to_numpy(float)

    def forward(tranches: np.ndarray) -> _Pass:
        """One week-by-week pass: netting, lot sizes, the capacity fit, offloads. ``tranches``:
        rows (sku, week built, week for, units) of build-ahead: the units are made in the week
        built on top of its own need and held (not netted) until the week they are for."""
        ti, tk, tj = (tranches[:, c].astype(int) for c in range(3))
        tu = tranches[:, 3]
        ahead = np.zeros((n, w))
        np.add.at(ahead, (ti, tk), tu)
        made_share = np.ones((n, w))  # the share of a week's build-ahead actually made
        inv = opening.copy()
        old_by_expiry = lots_opening.copy()
        hours_left = available.copy()
        offloads: list[tuple] = []
        binding = np.full((n, w), -1)
        blocked = np.zeros((n, w), dtype=bool)
        supply, moved_in, moved_out, cut, proj, expired, built = (np.zeros((n, w)) for _ in range(7))
        is_frozen = np.zeros((n, w), dtype=bool)
        backlog = np.zeros(n)  # units that did not fit last week (the netting retries them)
        for j, week in enumerate(weeks):
            wk = pd.Timestamp(week)
            # opening lots expiring this week leave first; demand then draws the oldest stock first
            expired[:, j] = old_by_expiry[:, j]
            old_by_expiry[:, j] = 0.0
            inv = inv - expired[:, j]
            demand_j = dem.iloc[:, j].to_numpy()
            draw = demand_j.copy()
            for k in range(j + 1, w + 1):
                take = np.minimum(draw, old_by_expiry[:, k])
                old_by_expiry[:, k] -= take
                draw = draw - take
            # a shortfall of last week lowered `inv`, so this week's need already includes it
            inv = inv + arriving[:, j]
            # stock built ahead for a later week is held for it, not netted against this week
            held_by = (tk < j) & (j < tj)
            held = np.bincount(ti[held_by], tu[held_by] * made_share[ti[held_by], tk[held_by]], minlength=n)
            need = np.maximum(0.0, demand_j + ss[:, j] - (inv - held))
            in_lead_time = j < reachable
            blocked[:, j] = in_lead_time & (need > 0)
            need = np.where(in_lead_time, 0.0, need)
            moved_in[:, j] = np.minimum(backlog, need)
            frozen_mask = np.array([(s, wk) in frozen for s in skus]) & (j < frozen_weeks)
            lot_sized = ~frozen_mask & (need > 1e-6) & (need < min_lot)
            want = np.where(frozen_mask, [frozen.get((s, wk), 0.0) for s in skus], np.where(lot_sized, min_lot, need))
            # units built ahead for a later week come on top of the week's own lot (a minimum run at least)
            extra = np.where(frozen_mask, 0.0, ahead[:, j])
            base = want.copy()
            want = np.where(extra > 0, np.maximum(base + extra, min_lot), want)
            is_frozen[:, j] = frozen_mask
            got = want.copy()
            if resources:
                free = hours_left[:, j] - (np.where(on_constraint & frozen_mask, want, 0.0)[:, None] * per_unit).sum(
                    axis=0
                )
                for i in order:
                    if not on_constraint[i] or frozen_mask[i]:
                        continue
                    got[i] = min(want[i], offload_lib.units_that_fit(free, per_unit[i]))
                    # less than a minimum run fits: make none (a SKU with alternates decides below)
                    if 0.0 < got[i] < min_lot[i] - 1e-9 and i not in alt_routes:
                        got[i] = 0.0
                    free = free - got[i] * per_unit[i]
                # offload what did not fit to alternates, after every SKU's primary load is placed
                for i in order:
                    if i not in alt_routes or not on_constraint[i] or frozen_mask[i]:
                        continue
                    rest = want[i] - got[i]
                    after, taken = (
                        offload_lib.offload(rest, free, per_unit[i], alt_routes[i]) if rest > 1e-6 else (free, [])
                    )
                    total = got[i] + sum(units for _, units in taken)
                    if 0.0 < total < min_lot[i] - 1e-9:  # less than a minimum run fits: make none
                        free = free + got[i] * per_unit[i]
                        got[i] = 0.0
                        continue
                    free, got[i] = after, total
                    offloads.extend((i, j, route, units) for route, units in taken)
                hours_left[:, j] = np.maximum(free, 0.0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    share_left = np.where(available[:, j] > 0, hours_left[:, j] / available[:, j], 0.0)
                binding[:, j] = np.where(
                    on_constraint, np.argmin(np.where(per_unit > 0, share_left[None, :], np.inf), axis=1), -1
                )
            short = np.where(frozen_mask, 0.0, np.maximum(need - got, 0.0))
            short = np.where(short < 1e-6, 0.0, short)  # float noise of the hours <-> units round trip
            backlog = short
            moved_out[:, j] = short if j < w - 1 else 0.0
            cut[:, j] = short if j == w - 1 else 0.0
            supply[:, j] = got
            inv = inv + got - demand_j
            proj[:, j] = inv
            built[:, j] = np.where(frozen_mask, 0.0, np.minimum(ahead[:, j], np.maximum(got - base, 0.0)))
            with np.errstate(divide="ignore", invalid="ignore"):
                made_share[:, j] = np.where(ahead[:, j] > 0, built[:, j] / ahead[:, j], 1.0)
        return _Pass(
            supply, moved_in, moved_out, cut, proj, expired, blocked, is_frozen, binding, hours_left, offloads, built
        )

    # Build-ahead: what a full week cannot make is made in earlier weeks with free hours, then the
    # weeks are planned again; repeated while it places more (module docstring, "Build-ahead").
    def settle(tranches: np.ndarray, state: _Pass) -> tuple[np.ndarray, _Pass, int, bool]:
        """Rounds until one places nothing: (tranches, state, rounds that placed units, settled)."""
        for rounds in range(BUILD_AHEAD_ROUNDS):
            added = _build_ahead_tranches(
                state, order, on_constraint, per_unit, min_lot, reachable, holding_week, shortage_cost, max_ahead
            )
            if not len(added):
                return tranches, state, rounds, True
            tranches = np.vstack([tranches, added])
            state = forward(tranches)
        return tranches, state, BUILD_AHEAD_ROUNDS, False

    tranches, state, rounds, settled = settle(np.zeros((0, 4)), forward(np.zeros((0, 4))))
    # a later round can free the very week an earlier one built ahead for (other SKUs' lots move):
    # such units are made in their own week again, and the rounds settle what that uncovers
    keep = _needed_tranches(state, tranches, per_unit, min_lot)
    if not keep.all():
        tranches, state, more, settled = settle(tranches[keep], forward(tranches[keep]))
        rounds += more
    ahead_for: dict[tuple[int, int], set[int]] = {}
    for i, k, j, _units in tranches:
        ahead_for.setdefault((int(i), int(k)), set()).add(int(j))
    supply, moved_in, moved_out, cut, proj, expired = (
        state.supply,
        state.moved_in,
        state.moved_out,
        state.cut,
        state.proj,
        state.expired,
    )
    blocked, is_frozen, binding, offloads, built = (
        state.blocked,
        state.is_frozen,
        state.binding,
        state.offloads,
        state.built,
    )

    out = d.copy()
    idx = {(s, pd.Timestamp(wk)): (i, j) for i, s in enumerate(skus) for j, wk in enumerate(weeks)}
    pos = [idx[(s, pd.Timestamp(wk))] for s, wk in zip(out.sku, out.week_start)]
    ii, jj = (np.array(a) for a in zip(*pos)) if pos else (np.array([], int), np.array([], int))
    out["supply_units"] = supply[ii, jj]
    made = np.array([src[i] == "make" for i in ii], dtype=bool) if len(ii) else np.array([], bool)
    out["make_units"] = np.where(made, out.supply_units, 0.0)
    out["receipts_units"] = arriving[ii, jj]
    out["expired_units"] = expired[ii, jj]
    out["expedite_cost"] = 0.0
    out["expedite_cost"] = sum_per_row(out, expedite_costs, "expedite_cost")
    out["moved_in_units"] = moved_in[ii, jj]
    out["moved_out_units"] = moved_out[ii, jj]
    out["cut_units"] = cut[ii, jj]
    out["built_ahead_units"] = np.where(built[ii, jj] > 1e-6, built[ii, jj], 0.0)
    out["projected_inventory_units"] = proj[ii, jj]
    out["safety_stock_units"] = ss[ii, jj]
    out["supply_source"] = np.where(is_frozen[ii, jj], "frozen", src[ii])
    bind = binding[ii, jj] if len(ii) else np.array([], int)
    names = np.array(resources + [""], dtype=object)
    out["resource_id"] = names[np.where(bind >= 0, bind, len(resources))]
    hours_per_unit = per_unit[ii, np.maximum(bind, 0)] if len(resources) and len(ii) else np.zeros(len(out))
    out["constraint_hours"] = np.where(bind >= 0, out.supply_units * hours_per_unit, 0.0)
    moved_off = _offload_frame(offloads, skus, weeks, resources, per_unit)
    out["offload_cost"] = offload_cost_by_row(out, moved_off)
    offload_note = pd.Series("", index=out.index, dtype=object)
    if len(moved_off):
        row_of = {key: k for k, key in enumerate(zip(out.sku, pd.to_datetime(out.week_start)))}
        bind_name = out.resource_id.to_numpy()
        hours = out.constraint_hours.to_numpy(dtype=float).copy()
        for r in moved_off.itertuples(index=False):
            k = row_of[(r.sku, pd.Timestamp(r.week_start))]
            if bind_name[k] == r.from_resource_id:  # the units made on the alternate leave the binding resource
                hours[k] -= r.from_hours
            text = (
                f"offloaded {r.units:,.0f} units from {r.from_resource_id} to {r.to_resource_id}"
                f" (extra cost {r.extra_cost:,.0f})"
            )
            offload_note.iloc[k] = f"{offload_note.iloc[k]}; {text}" if offload_note.iloc[k] else text
        out["constraint_hours"] = np.maximum(hours, 0.0)
    price = out["selling_price"] if "selling_price" in out else pd.Series(np.nan, index=out.index)
    out["selling_price"] = price.where(price.notna() & np.isfinite(price), out.unit_price)
    out["revenue"] = out.demand_units * out.selling_price
    out["margin"] = out.demand_units * (out.selling_price - out.unit_cost)
    out["net_margin"] = out.margin - out.expedite_cost - out.offload_cost
    # Flags compare with a tolerance: projected inventory that meets safety stock exactly lands
    # a few ulps either side of it (the plan fills `need = demand + ss - inv`).
    tol = FLAG_TOLERANCE_UNITS * np.maximum(1.0, out.safety_stock_units.abs())
    out["service_risk"] = np.select(
        [out.projected_inventory_units < -tol, out.projected_inventory_units < out.safety_stock_units - tol],
        ["stockout", "below_safety_stock"],
        "ok",
    )
    lead_note = (
        np.array(
            [
                f"inside the supplier lead time (new orders arrive from week {reachable[i] + 1}): "
                "expedite or accept the risk"
                for i in ii
            ],
            dtype=object,
        )
        if len(ii)
        else np.array([], object)
    )
    notes = np.where(blocked[ii, jj] & (out.service_risk != "ok"), lead_note, "")
    full = out.resource_id.where(out.resource_id != "", "constraint")
    notes = np.where(
        out.cut_units > 0,
        "cut: " + full + " full through the horizon",
        np.where(
            out.moved_out_units > 0,
            "moved to a later week: " + full + " full",
            np.where(out.moved_in_units > 0, "includes volume moved from an earlier week", notes),
        ),
    )
    notes = np.where(is_frozen[ii, jj], "frozen to the previous cycle's plan", notes)
    season_note = np.where(phased_weeks[ii, jj], SEASONAL_SS_NOTE, "") if len(ii) else np.array([], object)
    horizon_of = d.drop_duplicates("week_start").set_index("week_start").horizon_week.reindex(weeks).to_numpy()
    ahead_note = np.array(
        [
            f"built {b:,.0f} units ahead for week {', '.join(str(int(horizon_of[t])) for t in sorted(ahead_for[(i, j)]))}"
            " (capacity short then)"
            if b > 0 and (i, j) in ahead_for
            else ""
            for i, j, b in zip(ii, jj, out.built_ahead_units)
        ],
        dtype=object,
    )
    notes = notes.astype(object)
    for extra in (offload_note.to_numpy(dtype=object), ahead_note, season_note.astype(object)):
        notes = np.where(extra == "", notes, np.where(notes == "", extra, notes + "; " + extra))
    out["notes"] = notes
    # how the build-ahead went (the asset's metadata, the benchmark): rounds run, and whether the
    # last round found nothing more to place (False: stopped at BUILD_AHEAD_ROUNDS)
    out.attrs["build_ahead_rounds"] = rounds
    out.attrs["build_ahead_settled"] = settled
    return out, moved_off


def _offload_frame(offloads: list, skus: list, weeks: list, resources: list, per_unit: np.ndarray) -> pd.DataFrame:
    """The plan's offloads as ``offload.OFFLOAD_COLUMNS`` rows (sorted by SKU, week, priority)."""
    rows = [
        (
            skus[i],
            pd.Timestamp(weeks[j]),
            resources[route.src],
            resources[route.dst],
            route.priority,
            units,
            units * per_unit[i, route.src],
            units * route.hours_per_unit,
            units * route.extra_cost_per_unit,
        )
        for i, j, route, units in offloads
    ]
    frame = pd.DataFrame(rows, columns=offload_lib.OFFLOAD_COLUMNS)
    return frame.sort_values(["sku", "week_start", "priority"], kind="stable", ignore_index=True)


def sum_per_row(plan: pd.DataFrame, rows: pd.DataFrame | None, column: str) -> np.ndarray:
    """Per plan row (SKU x week), the sum of ``rows[column]`` over the rows of its SKU and week
    (``rows``: ``[sku, week_start, column]``), 0 where there are none: the expedites' cost and the
    offloads' extra cost of each row."""
    if rows is None or rows.empty or plan.empty:
        return np.zeros(len(plan))
    total = rows.assign(week_start=pd.to_datetime(rows["week_start"])).groupby(["sku", "week_start"])[column].sum()
    key = pd.MultiIndex.from_arrays([plan["sku"], pd.to_datetime(plan["week_start"])])
    return total.reindex(key).fillna(0.0).to_numpy(dtype=float)


def offload_cost_by_row(plan: pd.DataFrame, offloads: pd.DataFrame | None) -> np.ndarray:
    """Extra cost of the units made on an alternate resource, per plan row (SKU x week): the sum of
    the offloads' ``extra_cost`` of the row's SKU and week, 0 where nothing was offloaded."""
    return sum_per_row(plan, offloads, "extra_cost")


def balance_breaks(plan: pd.DataFrame, opening: pd.Series, tolerance: float = 1e-6) -> pd.DataFrame:
    """Rows whose projection breaks the inventory balance (backlog form, module docstring):
    ``sku, week_start, expected, projected``. Week 1 starts from ``opening`` (sku -> units)."""
    p = plan.sort_values(["sku", "week_start"])
    flow = p.supply_units + p.receipts_units - p.demand_units - p.get("expired_units", 0.0)
    before = p.groupby("sku").projected_inventory_units.shift()
    first = before.isna()
    before = before.where(~first, p.sku.map(opening).fillna(0.0))
    expected = before + flow
    bad = (expected - p.projected_inventory_units).abs() > tolerance * np.maximum(1.0, expected.abs())
    out = p.loc[bad, ["sku", "week_start"]].assign(expected=expected[bad], projected=p.projected_inventory_units[bad])
    return out.reset_index(drop=True)


def start_stock_breaks(plan: pd.DataFrame, usable: pd.Series, tolerance: float = 1e-6) -> pd.DataFrame:
    """SKUs whose week-1 opening stock (projected - supply - receipts + demand + expired) exceeds
    the usable stock at the as-of: ``sku, week_start, opening, usable``."""
    p = plan.sort_values(["sku", "week_start"]).groupby("sku", as_index=False).first()
    opening = (
        p.projected_inventory_units - p.supply_units - p.receipts_units + p.demand_units + p.get("expired_units", 0.0)
    )
    usable_units = p.sku.map(usable).fillna(0.0)
    bad = opening > usable_units + tolerance * np.maximum(1.0, usable_units.abs())
    return (
        p.loc[bad, ["sku", "week_start"]].assign(opening=opening[bad], usable=usable_units[bad]).reset_index(drop=True)
    )


def avoidable_shortfalls(
    plan: pd.DataFrame,
    items: pd.DataFrame,
    routings: pd.DataFrame,
    resource_hours: pd.DataFrame,
    offloads: pd.DataFrame | None = None,
    min_lot_units: pd.Series | None = None,
    holding_rate: float = DEFAULT_HOLDING_RATE,
    goodwill_factor: float = DEFAULT_GOODWILL_FACTOR,
    build_ahead_weeks: pd.Series | None = None,
) -> pd.DataFrame:
    """Shortfalls the plan could have built ahead (check ``no_avoidable_shortfall``): made SKU-weeks
    short of capacity (``moved_out_units`` or ``cut_units`` > 0) with an earlier week, not frozen
    for the SKU, where every resource of its routing has hours left (``resource_load`` of the
    published plan and offloads) for at least a unit (a minimum run where the SKU makes nothing
    that week; the shortfall itself where it is under a unit), carrying a unit that long costs
    less than being short of it, and the week is within the SKU's ``build_ahead_weeks`` (sku -> weeks; missing: no limit). Rows:
    ``sku, week_start, short_units, earlier_week, units_free`` (the latest such week)."""
    cols = ["sku", "week_start", "short_units", "earlier_week", "units_free"]
    p = plan.assign(week_start=pd.to_datetime(plan.week_start))
    short = p[(p.supply_source == "make") & (p.moved_out_units + p.cut_units > 1e-6)]
    if short.empty or routings is None or routings.empty:
        return pd.DataFrame(columns=cols)
    load = resource_load(plan, routings, resource_hours, offloads)
    free = dict(zip(zip(load.resource_id.astype(str), load.week_start), load.available_hours - load.planned_hours))
    rates = routings[pd.to_numeric(routings.units_per_hour, errors="coerce") > 0]
    route_of: dict[str, list[tuple[str, float]]] = {}
    for sku, res, rate in zip(rates.sku, rates.resource_id.astype(str), rates.units_per_hour.astype(float)):
        route_of.setdefault(sku, []).append((res, rate))
    value = items.drop_duplicates("sku").set_index("sku")
    unit_cost, unit_price = value.unit_cost.to_dict(), value.unit_price.to_dict()
    lot = min_lot_units.to_dict() if min_lot_units is not None else {}
    limit = build_ahead_weeks.to_dict() if build_ahead_weeks is not None else {}
    # each short SKU's rows latest week first, in one pass (a filter of the whole plan per short
    # row took ~55 s at large: 5,000 short rows x 39,000 plan rows)
    weeks_of: dict[str, list] = {}
    mine = p[p.sku.isin(set(short.sku))].sort_values(["sku", "week_start"], ascending=[True, False])
    for e in mine[["sku", "week_start", "supply_source", "supply_units"]].itertuples(index=False):
        weeks_of.setdefault(e.sku, []).append(e)
    out = []
    for r in short.itertuples(index=False):
        route = route_of.get(r.sku)
        if not route:
            continue
        cost = float(np.nan_to_num(unit_cost.get(r.sku, 0.0)))
        price = float(unit_price.get(r.sku, np.nan))
        shortage = max(price - cost, 0.0) * goodwill_factor if np.isfinite(price) else 0.0
        short_units = r.moved_out_units + r.cut_units
        for e in weeks_of[r.sku]:
            if e.week_start >= r.week_start:
                continue
            weeks_carried = (r.week_start - e.week_start).days / 7
            if weeks_carried > limit.get(r.sku, np.inf) + 1e-9:
                break
            if e.supply_source == "frozen" or cost * holding_rate * weeks_carried / 52.0 > shortage:
                continue
            fits = min(max(float(free.get((res, e.week_start), 0.0)), 0.0) * rate for res, rate in route)
            least = (
                min(BUILD_AHEAD_MIN_UNITS, short_units)
                if e.supply_units > 1e-6  # the SKU makes that week anyway
                else max(float(lot.get(r.sku, 0.0)), BUILD_AHEAD_MIN_UNITS)
            )
            if fits >= least * (1 + 1e-6) + 1e-6:
                out.append((r.sku, r.week_start, short_units, e.week_start, fits))
                break
    return pd.DataFrame(out, columns=cols)


def supply_cost_breaks(
    plan: pd.DataFrame, offloads: pd.DataFrame, expedite_costs: pd.DataFrame | None = None, tolerance: float = 0.005
) -> pd.DataFrame:
    """Plan rows whose supply costs or net margin do not reconcile (check ``net_margin_reconciles``):
    ``sku, week_start, expected, stated`` for the first rule a row breaks, in this order:
    ``offload_cost`` = the row's offloads' ``extra_cost``; ``expedite_cost`` = the approved
    expedites' cost landing in the row (``expedite_costs``: ``[sku, week_start, expedite_cost]``,
    skipped when None); ``net_margin`` = margin - expedite_cost - offload_cost. Money within
    ``tolerance`` (half a cent), relative to the larger amount above 1."""
    cols = ["sku", "week_start", "expected", "stated"]
    if plan.empty:
        return pd.DataFrame(columns=cols)
    p = plan.reset_index(drop=True)
    checks = [(offload_cost_by_row(p, offloads), p.offload_cost.to_numpy(dtype=float))]
    if expedite_costs is not None:
        checks.append((sum_per_row(p, expedite_costs, "expedite_cost"), p.expedite_cost.to_numpy(dtype=float)))
    net = (p.margin - p.expedite_cost - p.offload_cost).to_numpy(dtype=float)
    checks.append((net, p.net_margin.to_numpy(dtype=float)))
    expected = np.full(len(p), np.nan)
    stated = np.full(len(p), np.nan)
    for want, got in checks:
        off = ~(np.abs(want - got) <= tolerance * np.maximum(1.0, np.maximum(np.abs(want), np.abs(got))))
        first = off & np.isnan(expected)
        expected[first], stated[first] = want[first], got[first]
    bad = ~np.isnan(expected)
    return p.loc[bad, ["sku", "week_start"]].assign(expected=expected[bad], stated=stated[bad]).reset_index(drop=True)


def describe_breaks(breaks: pd.DataFrame, what: str, limit: int = 5) -> str:
    """One line naming the first SKUs and weeks that break a rule (for asset checks)."""
    if breaks.empty:
        return f"{what}: holds on every row"

    def text(value) -> str:
        if isinstance(value, pd.Timestamp):
            return str(value.date())
        return f"{value:,.2f}" if isinstance(value, (int, float, np.number)) else str(value)

    shown = "; ".join(
        f"{r.sku} week of {pd.Timestamp(r.week_start).date()}"
        + "".join(f" {c}={text(getattr(r, c))}" for c in breaks.columns if c not in ("sku", "week_start"))
        for r in breaks.head(limit).itertuples()
    )
    more = f" (+{len(breaks) - limit} more)" if len(breaks) > limit else ""
    return f"{what}: {len(breaks)} row(s) break it: {shown}{more}"


def plan_totals_reconcile(plan: pd.DataFrame, tolerance: float = 1e-6) -> bool:
    """Family roll-up equals the SKU plan (revenue and units)."""
    fam = plan.groupby("family")[["demand_units", "revenue"]].sum().sum()
    return bool(
        abs(fam.demand_units - plan.demand_units.sum()) < tolerance
        and abs(fam.revenue - plan.revenue.sum()) < tolerance * max(1, abs(plan.revenue.sum()))
    )


#: Columns of the plan's load per resource and week (`plan_capacity_load`).
PLAN_LOAD_COLUMNS = [
    "resource_id",
    "week_start",
    "available_hours",
    "changeover_hours",
    "run_hours",
    "plan_hours",
    "plan_load_pct",
]


def plan_capacity_load(load: pd.DataFrame, capacity: pd.DataFrame) -> pd.DataFrame:
    """The plan of record's load per critical resource and week, on the capacity table's terms:
    ``run_hours`` (`resource_load`'s planned hours: made units on their primary routing, offloaded
    units on the alternate), ``changeover_hours`` (the capacity table's changeover reserve, which the
    plan keeps free), ``plan_hours`` = run + changeover and ``plan_load_pct`` = plan_hours /
    ``available_hours`` x 100 (the capacity table's `load_pct` is the same ratio for the demand
    forecast's make volume, before the plan moved, built ahead, offloaded or cut anything).
    ``capacity``: ``resource_id, week_start, available_hours, changeover_hours``."""
    cap = capacity[["resource_id", "week_start", "available_hours", "changeover_hours"]].assign(
        week_start=pd.to_datetime(capacity["week_start"]).dt.normalize().astype("datetime64[us]")
    )
    run = load[["resource_id", "week_start", "planned_hours"]].assign(
        week_start=pd.to_datetime(load["week_start"]).astype("datetime64[us]")
    )
    out = cap.merge(run, on=["resource_id", "week_start"], how="left").rename(columns={"planned_hours": "run_hours"})
    out["run_hours"] = out.run_hours.fillna(0.0)
    out["changeover_hours"] = out.changeover_hours.fillna(0.0)
    out["plan_hours"] = out.run_hours + out.changeover_hours
    with np.errstate(divide="ignore", invalid="ignore"):
        out["plan_load_pct"] = np.where(out.available_hours > 0, 100.0 * out.plan_hours / out.available_hours, np.nan)
    return out[PLAN_LOAD_COLUMNS].sort_values(["resource_id", "week_start"], ignore_index=True)


def resource_load(
    plan: pd.DataFrame, routings: pd.DataFrame, resource_hours: pd.DataFrame, offloads: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Hours the plan's made supply needs on every routed resource per week, against the hours
    available: ``resource_id, week_start, planned_hours, available_hours, load_pct``. Frozen
    rows count too (they may exceed: the freeze window was approved). ``offloads``
    (``offload.OFFLOAD_COLUMNS``): units made on an alternate count on the alternate
    (``to_hours``) instead of on the primary resource they left (``from_hours``)."""
    made = plan[plan.supply_source.isin(["make", "frozen"])][["sku", "week_start", "supply_units"]]
    use = made.merge(routings[["sku", "resource_id", "units_per_hour"]], on="sku")
    use = use[use.units_per_hour > 0]
    use["planned_hours"] = use.supply_units / use.units_per_hour
    use["week_start"] = pd.to_datetime(use.week_start)
    if offloads is not None and len(offloads):
        o = offloads.assign(week_start=pd.to_datetime(offloads.week_start))
        use = pd.concat(
            [
                use[["resource_id", "week_start", "planned_hours"]],
                o[["from_resource_id", "week_start"]]
                .rename(columns={"from_resource_id": "resource_id"})
                .assign(planned_hours=-o.from_hours),
                o[["to_resource_id", "week_start"]]
                .rename(columns={"to_resource_id": "resource_id"})
                .assign(planned_hours=o.to_hours),
            ],
            ignore_index=True,
        )
    load = use.groupby(["resource_id", "week_start"], as_index=False).planned_hours.sum()
    hours = resource_hours.rename(columns={"hours": "available_hours"})
    load = hours.assign(week_start=pd.to_datetime(hours.week_start)).merge(
        load, on=["resource_id", "week_start"], how="left"
    )
    load["planned_hours"] = load.planned_hours.fillna(0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        load["load_pct"] = np.where(load.available_hours > 0, 100.0 * load.planned_hours / load.available_hours, np.nan)
    return load.sort_values(["resource_id", "week_start"]).reset_index(drop=True)
