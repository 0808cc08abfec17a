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
* **expedite** (subject an expedite id, value its cost): adds cost; reported, not re-planned.

Supply netting per SKU and week: required = max(0, demand + safety stock - projected inventory
carried in); made items are then fitted into the constraint's available hours week by week in
priority order (ABC class, then margin per constraint hour); what does not fit moves to the
next week with free hours (``moved``) and, past the horizon, is ``cut``. The plan never
exceeds available hours: overloaded weeks say what was moved or cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PLAN_COLUMNS = [
    "sku", "family", "week_start", "horizon_week", "demand_units", "revenue", "margin", "supply_units",
    "supply_source", "resource_id", "constraint_hours", "moved_in_units", "moved_out_units", "cut_units",
    "projected_inventory_units", "safety_stock_units", "service_risk", "decision_ids", "notes",
]


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
            effects.append(DecisionEffect(row.decision_id, "substitution",
                                          f"no effect this cycle: no demand of {src} in the horizon"
                                          f"{' before ' + until.date().isoformat() if until is not None else ''}"
                                          if moved.empty else f"no effect: {dst} is not in the plan"))
            continue
        by_week = moved.groupby("week_start").demand_units.sum()
        demand.loc[mask, "demand_units"] = 0.0
        target = (demand.sku == dst) & demand.week_start.isin(by_week.index)
        demand.loc[target, "demand_units"] += demand.loc[target, "week_start"].map(by_week).to_numpy()
        demand.loc[mask | target, "decision_ids"] = _add_id(demand.loc[mask | target, "decision_ids"], row.decision_id)
        effects.append(DecisionEffect(row.decision_id, "substitution",
                                      f"moved {by_week.sum():,.0f} units of demand from {src} to {dst}"))
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
            effects.append(DecisionEffect(row.decision_id, "make_vs_buy",
                                          f"{sku} is {'bought' if value == 'buy' else 'made'} "
                                          f"(was {'bought' if before == 'buy' else 'made'})"))
    return source, changed, effects


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


def supply_plan(demand: pd.DataFrame, items: pd.DataFrame, *, opening_inventory: pd.Series,
                safety_stock: pd.Series, source: pd.Series, constraint_rate: pd.Series,
                constraint_hours: pd.Series, constraint_id: str | None, priority: pd.Series,
                frozen_supply: pd.DataFrame | None = None, frozen_weeks: int = 0) -> pd.DataFrame:
    """Week-by-week netting and capacity fit (module docstring).

    Args:
        demand: ``[sku, week_start, horizon_week, demand_units, decision_ids]`` for the horizon.
        items: ``[sku, family, unit_price, unit_cost]``.
        opening_inventory: units available per sku at the start of week 1.
        safety_stock: target safety stock per sku (units).
        source: ``make`` / ``buy`` per sku.
        constraint_rate: units per hour of each made sku on the constraint resource.
        constraint_hours: available hours of the constraint per week_start.
        constraint_id: the constraint resource (None: no capacity data, nothing is cut).
        priority: smaller = served first when capacity is short (per sku).
        frozen_supply: ``[sku, week_start, supply_units]`` of the previous cycle's plan.
        frozen_weeks: horizon weeks 1..N take the frozen supply.
    """
    d = demand.merge(items[["sku", "family", "unit_price", "unit_cost"]], on="sku", how="left")
    d = d.sort_values(["sku", "week_start"]).reset_index(drop=True)
    weeks = sorted(d.week_start.unique())
    skus = sorted(d.sku.unique())
    dem = d.pivot(index="sku", columns="week_start", values="demand_units").reindex(index=skus, columns=weeks).fillna(0)
    ss = safety_stock.reindex(skus).fillna(0.0).to_numpy()
    inv = opening_inventory.reindex(skus).fillna(0.0).to_numpy().astype(float)
    src = source.reindex(skus).fillna("make").to_numpy()
    rate = constraint_rate.reindex(skus).to_numpy(dtype=float)
    on_constraint = (src == "make") & np.isfinite(rate) & (rate > 0) & (constraint_id is not None)
    frozen = {}
    if frozen_supply is not None and frozen_weeks:
        for r in frozen_supply.itertuples():
            frozen[(r.sku, pd.Timestamp(r.week_start))] = float(r.supply_units)
    order = np.argsort(priority.reindex(skus).fillna(np.inf).to_numpy(), kind="stable")

    n, w = len(skus), len(weeks)
    supply, moved_in, moved_out, cut, proj = (np.zeros((n, w)) for _ in range(5))
    is_frozen = np.zeros((n, w), dtype=bool)
    backlog = np.zeros(n)  # units that did not fit last week (the netting retries them)
    hours_left = np.array([float(constraint_hours.get(pd.Timestamp(wk), np.inf)) for wk in weeks])
    for j, week in enumerate(weeks):
        wk = pd.Timestamp(week)
        # a shortfall of last week lowered `inv`, so this week's need already includes it
        need = np.maximum(0.0, dem.iloc[:, j].to_numpy() + ss - inv)
        moved_in[:, j] = np.minimum(backlog, need)
        frozen_mask = np.array([(s, wk) in frozen for s in skus]) & (j < frozen_weeks)
        want = np.where(frozen_mask, [frozen.get((s, wk), 0.0) for s in skus], need)
        is_frozen[:, j] = frozen_mask
        got = want.copy()
        if constraint_id is not None:
            hours_used = np.where(on_constraint & frozen_mask, want / np.where(rate > 0, rate, 1), 0.0).sum()
            free = hours_left[j] - hours_used
            for i in order:
                if not on_constraint[i] or frozen_mask[i]:
                    continue
                hours = want[i] / rate[i]
                fit = min(hours, max(free, 0.0))
                got[i] = fit * rate[i]
                free -= fit
            hours_left[j] = max(free, 0.0)
        short = np.where(frozen_mask, 0.0, want - got)
        short = np.where(short < 1e-6, 0.0, short)  # float noise of the hours <-> units round trip
        backlog = short
        moved_out[:, j] = short if j < w - 1 else 0.0
        cut[:, j] = short if j == w - 1 else 0.0
        supply[:, j] = got
        inv = inv + got - dem.iloc[:, j].to_numpy()
        proj[:, j] = inv

    out = d.copy()
    idx = {(s, pd.Timestamp(wk)): (i, j) for i, s in enumerate(skus) for j, wk in enumerate(weeks)}
    pos = [idx[(s, pd.Timestamp(wk))] for s, wk in zip(out.sku, out.week_start)]
    ii, jj = (np.array(a) for a in zip(*pos)) if pos else (np.array([], int), np.array([], int))
    out["supply_units"] = supply[ii, jj]
    out["moved_in_units"] = moved_in[ii, jj]
    out["moved_out_units"] = moved_out[ii, jj]
    out["cut_units"] = cut[ii, jj]
    out["projected_inventory_units"] = proj[ii, jj]
    out["safety_stock_units"] = ss[ii]
    out["supply_source"] = np.where(is_frozen[ii, jj], "frozen", src[ii])
    out["resource_id"] = np.where(on_constraint[ii], constraint_id or "", "")
    out["constraint_hours"] = np.where(on_constraint[ii], out.supply_units / np.where(rate[ii] > 0, rate[ii], 1), 0.0)
    out["revenue"] = out.demand_units * out.unit_price
    out["margin"] = out.demand_units * (out.unit_price - out.unit_cost)
    out["service_risk"] = np.select(
        [out.projected_inventory_units < 0, out.projected_inventory_units < out.safety_stock_units],
        ["stockout", "below_safety_stock"], "ok")
    notes = np.where(out.cut_units > 0, "cut: constraint full through the horizon",
                     np.where(out.moved_out_units > 0, "moved to a later week: constraint full",
                              np.where(out.moved_in_units > 0, "includes volume moved from an earlier week", "")))
    out["notes"] = np.where(is_frozen[ii, jj], "frozen to the previous cycle's plan", notes)
    return out


def plan_totals_reconcile(plan: pd.DataFrame, tolerance: float = 1e-6) -> bool:
    """Family roll-up equals the SKU plan (revenue and units)."""
    fam = plan.groupby("family")[["demand_units", "revenue"]].sum().sum()
    return bool(abs(fam.demand_units - plan.demand_units.sum()) < tolerance
                and abs(fam.revenue - plan.revenue.sum()) < tolerance * max(1, abs(plan.revenue.sum())))
