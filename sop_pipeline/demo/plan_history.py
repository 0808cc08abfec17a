"""The plan of record published at the previous weekly cycle (the `plan_history` extract).

A company starting with sop-pipeline has last week's plan (from the last meeting or the tool it
used before); the demo exports it for the cycle one week before ``end_date``, 13 horizon weeks
from the Monday after it. That plan is plausible but different from what this cycle plans:

* demand = the Sales forecast as submitted in the snapshot before that cycle (the Monday a week
  earlier, ``sales`` source), whose 13 weeks are exactly that cycle's horizon: last week's plan
  took Sales' numbers at face value (optimistic families included), this cycle's consensus
  filters them and the statistical forecast has a week more of actuals;
* supply of a made SKU = its demand, scaled down per week (the same share for every made SKU)
  until each routed resource (M1, M2, T1, L1) is at most ``LOAD_TARGET`` of its hours (M1/M2:
  calendar less planned maintenance; L1: the qualified line operators' hours), so the frozen
  weeks it locks are feasible; a bought SKU gets supply only from the week its supplier's quoted
  lead time allows (open orders cover the weeks before);
* made supply comes in lots no smaller than the SKU's minimum run, as the pipeline plans them
  (``sop_pipeline.analytics.mps.minimum_run_units``: the 10th percentile of its non-cancelled
  production order sizes): a smaller need waits and joins the next week's, and a lot that would
  take a resource past its hours less ``CHANGEOVER_ALLOWANCE_H`` waits too (a line's changeovers
  hold the format tooling and the operators as well, so T1 and L1 keep both lines' allowance), so
  the weeks a freeze locks hold neither lots the sequencer calls too small nor more hours than the
  synchronized sequence can run;
* revenue = demand x list price (as the plan of record computes it).

``past_plans`` adds the consensus of the ``PAST_CYCLES`` cycles before it (2..26 weeks before
``end_date``, the backtest's origins), so forecast value added (`analytics.fva`) scores the
consensus step at every lag: the meeting took Sales' numbers at face value for the optimistic
families (as last week's plan did) and met the others halfway (geometric mean of the Sales forecast
and the expected demand). Supply = demand and revenue = demand x list price (those cycles are never
frozen against: only the latest cycle is). No random stream: every other extract is unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import Calendar, round_money
from .items import Catalog
from .plant import Plant, Production, routed_hours
from .procurement import Purchasing

HORIZON = 13
PAST_CYCLES = 25  # cycles end_date - 14 days .. end_date - 26 weeks
MIN_RUN_QUANTILE = 0.10  # as analytics.mps.DEFAULT_MIN_RUN_QUANTILE
LOAD_TARGET = {"M1": 0.75, "M2": 0.75, "T1": 0.9, "L1": 0.9}
CALENDAR_H = 80.0  # resources: 16 h x 5 days
# Hours a week kept free for changeovers when lots are placed: a line's setup-family changeovers
# (the pipeline's rough-cut estimate is 2-4 h a line-week on the demo), held by the tooling and
# the operators of both lines.
CHANGEOVER_ALLOWANCE_H = {"M1": 4.0, "M2": 4.0, "T1": 8.0, "L1": 8.0}


def previous_plan(
    cat: Catalog,
    sales_forecast: dict,
    plant: Plant,
    prod: Production,
    pur: Purchasing,
    l1_qualified_hours: float,
    cal: Calendar,
) -> dict:
    """The `plan_history` extract: one cycle (``end_date`` - 7 days), every FG the Sales forecast
    covers x 13 weeks. ``sales_forecast`` is the `sales_forecast` extract (columns as written)."""
    fg = cat.fg
    first = cal.weeks - 1  # the previous cycle's week 1 = the last history week
    weeks = np.arange(first, first + HORIZON)
    keep = (sales_forecast["source"] == "sales") & (sales_forecast["snapshot_date"] == cal.week_start(first - 1))
    fc = pd.DataFrame({k: np.asarray(sales_forecast[k])[keep] for k in ("sku", "week_start", "units")})
    demand = np.zeros((cat.n_fg, HORIZON))
    row = pd.Series(np.arange(cat.n_fg), index=fg.sku.to_numpy())[fc.sku.to_numpy()].to_numpy()
    col = ((fc.week_start.to_numpy() - cal.week_start(first)) // np.timedelta64(7, "D")).astype(np.int64)
    demand[row, col] = fc.units.to_numpy()
    live = np.zeros(cat.n_fg, dtype=bool)
    live[row] = True

    supply = np.zeros_like(demand)
    make = plant.make
    made = demand[make]
    hours = routed_hours(plant, made)
    planned = prod.downtime[prod.downtime.planned.to_numpy()]
    pm_week = cal.day_index(planned.start.to_numpy().astype("datetime64[D]")) // 7
    cap = {"T1": np.full(HORIZON, CALENDAR_H), "L1": np.full(HORIZON, l1_qualified_hours)}
    for m in ("M1", "M2"):
        sel = (planned.resource_id.to_numpy() == m) & (pm_week >= first) & (pm_week < first + HORIZON)
        pm = np.bincount(pm_week[sel] - first, planned.hours.to_numpy()[sel], minlength=HORIZON)
        cap[m] = np.maximum(CALENDAR_H - pm, 0.0)
    share = np.ones(HORIZON)
    for r, h in hours.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.minimum(share, np.where(h > 0, LOAD_TARGET[r] * cap[r] / h, 1.0))
    target = np.floor(made * share[None, :] * 10) / 10  # rounded down: never above the target
    lot_cap = {r: np.maximum(h - CHANGEOVER_ALLOWANCE_H[r], 0.0) for r, h in cap.items()}
    supply[make] = _lot_sized(target, _minimum_runs(prod.orders, len(make)), _unit_hours(plant, len(make)), lot_cap)

    buy = np.flatnonzero(fg.make_or_buy.to_numpy() == "buy")
    lead = _quoted_lead_weeks(pur, fg.sku.to_numpy()[buy])
    reachable = np.arange(HORIZON)[None, :] >= lead[:, None]
    supply[buy] = np.where(reachable, demand[buy], 0.0)

    s, h = np.nonzero(np.broadcast_to(live[:, None], demand.shape))
    cycle = np.datetime64(cal.end, "D") - 7
    return {
        "cycle_id": np.full(len(s), cycle),
        "sku": fg.sku.to_numpy()[s],
        "week_start": cal.week_start(weeks[h]),
        "demand_units": demand[s, h],
        "supply_units": supply[s, h],
        "revenue": round_money(demand[s, h] * fg.unit_price.to_numpy()[s]),
        "family": fg.family.to_numpy()[s],
    }


def _minimum_runs(orders: pd.DataFrame, n_make: int) -> np.ndarray:
    """Minimum run per made SKU (index = position in ``plant.make``): the 10th percentile of its
    non-cancelled order sizes (linear interpolation, as pandas' quantile), 0 without orders."""
    live = orders[(orders.status != "cancelled") & (orders.qty > 0)]
    q = live.groupby("mk").qty.quantile(MIN_RUN_QUANTILE)
    out = np.zeros(n_make)
    out[q.index.to_numpy(dtype=np.int64)] = q.to_numpy()
    return out


def _unit_hours(plant: Plant, n_make: int) -> dict[str, np.ndarray]:
    """Hours one unit of each made SKU takes on each routed resource."""
    eye = np.eye(n_make)
    return {
        r: np.array([routed_hours(plant, eye[:, [i]])[r][0] for i in range(n_make)]) for r in ("M1", "M2", "T1", "L1")
    }


def _lot_sized(
    target: np.ndarray, min_run: np.ndarray, unit_hours: dict[str, np.ndarray], cap: dict[str, np.ndarray]
) -> np.ndarray:
    """Week by week, each SKU's need waits until it reaches the minimum run, and a lot waits
    while it would take a routed resource past its hours; whatever waits at the end is dropped."""
    out = np.zeros_like(target)
    waiting = np.zeros(target.shape[0])
    for j in range(target.shape[1]):
        waiting = waiting + target[:, j]
        free = {r: float(cap[r][j]) for r in unit_hours}
        for i in np.flatnonzero((waiting > 0) & (waiting >= min_run - 1e-9)):
            need = {r: waiting[i] * unit_hours[r][i] for r in unit_hours}
            if all(need[r] <= free[r] + 1e-9 for r in need):
                out[i, j] = waiting[i]
                waiting[i] = 0.0
                for r in need:
                    free[r] -= need[r]
    return out


def _quoted_lead_weeks(pur: Purchasing, skus: np.ndarray) -> np.ndarray:
    """Weeks of quoted supplier lead time per bought SKU (its most recent PO line's supplier; 0 if none)."""
    lines = pur.po_lines.sort_values("order_day", kind="stable").groupby("sku").tail(1)
    lead_days = lines.set_index("sku").sup_idx.map(pd.Series(pur.suppliers.lead.to_numpy()))
    return np.ceil(lead_days.reindex(skus).fillna(0).to_numpy() / 7).astype(np.int64)


def past_plans(
    cat: Catalog, sales_forecast: dict, expected_wk: np.ndarray, optimistic: np.ndarray, cal: Calendar
) -> dict:
    """Consensus plans of the ``PAST_CYCLES`` cycles before the previous one (module docstring):
    cycle ``end_date - 7k`` (k = 2..PAST_CYCLES + 1), its 13 weeks from the Monday after it, demand =
    the Sales forecast of the snapshot the Monday before it (optimistic families) or the geometric
    mean of that and the expected units (``expected_wk``: FG x week). ``optimistic``: family indices."""
    fg = cat.fg
    sf = pd.DataFrame(
        {k: np.asarray(sales_forecast[k]) for k in ("snapshot_date", "sku", "week_start", "units", "source")}
    )
    sf = sf[sf.source == "sales"]
    row_of = pd.Series(np.arange(cat.n_fg), index=fg.sku.to_numpy())
    face_value = np.isin(fg.fam.to_numpy(), optimistic)
    parts = []
    for k in range(PAST_CYCLES + 1, 1, -1):  # oldest first
        first = cal.weeks - k
        fc = sf[sf.snapshot_date == cal.week_start(first - 1)]
        row = row_of[fc.sku.to_numpy()].to_numpy()
        col = ((fc.week_start.to_numpy() - cal.week_start(first)) // np.timedelta64(7, "D")).astype(np.int64)
        sales = fc.units.to_numpy(dtype=float)
        expected = expected_wk[row, first + col]
        demand = np.round(np.where(face_value[row], sales, np.sqrt(sales * np.maximum(expected, 0.0))), 1)
        parts.append(
            pd.DataFrame(
                {
                    "cycle_id": np.datetime64(cal.end, "D") - 7 * k,
                    "sku": fg.sku.to_numpy()[row],
                    "week_start": fc.week_start.to_numpy(),
                    "demand_units": demand,
                    "supply_units": demand,
                    "revenue": round_money(demand * fg.unit_price.to_numpy()[row]),
                    "family": fg.family.to_numpy()[row],
                }
            ).sort_values(["sku", "week_start"], kind="stable")
        )
    out = pd.concat(parts, ignore_index=True)
    return {c: out[c].to_numpy() for c in out.columns}
