"""Alternate resources: which alternate can take a SKU's work off a full primary resource, at what
rate and cost, and how much the plan offloads in a week. Pure pandas / numpy; no Dagster.

The routings extract lists a SKU's primary routing (priority 1 or empty: every resource the SKU
needs) and, optionally, alternates (priority 2, 3, ...): a resource that can do the work of one
primary resource (``alternate_for``; empty = the SKU's only primary resource) at its own rate.

Offloading (called by :func:`sop_pipeline.analytics.plan.supply_plan` for each week):

1. every made SKU first gets what fits its primary routing, in plan priority order (the old plan);
2. then, in the same priority order, a SKU whose need did not fit takes hours on its alternates,
   in alternate priority order, **after** every SKU's primary load is placed (an alternate's own
   work comes first). A unit made on alternate A instead of primary P uses 1 / rate_A hours on A
   instead of 1 / rate_P on P, and still needs the SKU's other primary resources (labour,
   tooling): it fits only where each of them has hours left;
3. only what fits neither is moved to a later week or cut (or proposed to buy), as before.

Cost of a unit on a routing row = cost_per_unit + cost_per_hour / units_per_hour (empty costs: 0).
The offload's extra cost = units x (unit cost on the alternate - unit cost on the primary it
replaces); it can be negative when the alternate is cheaper but ranked lower.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ROUTE_COLUMNS = [
    "sku",
    "from_resource_id",
    "to_resource_id",
    "priority",
    "from_units_per_hour",
    "to_units_per_hour",
    "extra_cost_per_unit",
]
IGNORED_COLUMNS = ["sku", "resource_id", "reason"]
OFFLOAD_COLUMNS = [
    "sku",
    "week_start",
    "from_resource_id",
    "to_resource_id",
    "priority",
    "units",
    "from_hours",
    "to_hours",
    "extra_cost",
]
_EPS = 1e-9


def _cost(frame: pd.DataFrame) -> pd.Series:
    """Cost of one unit on each routing row (cost_per_unit + cost_per_hour / units_per_hour)."""
    rate = pd.to_numeric(frame["units_per_hour"], errors="coerce")
    per_hour = pd.to_numeric(frame.get("cost_per_hour", pd.Series(0.0, index=frame.index)), errors="coerce")
    per_unit = pd.to_numeric(frame.get("cost_per_unit", pd.Series(0.0, index=frame.index)), errors="coerce")
    with np.errstate(divide="ignore", invalid="ignore"):
        hourly = np.where(rate > 0, per_hour.fillna(0.0) / rate, 0.0)
    return per_unit.fillna(0.0) + hourly


def alternate_routes(primary: pd.DataFrame, alternates: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Resolve the alternates of the routings extract into usable routes.

    Args:
        primary: the primary routing ``[sku, resource_id, units_per_hour]`` (+ optional
            ``cost_per_hour``, ``cost_per_unit``).
        alternates: ``[sku, resource_id, units_per_hour, priority, alternate_for]`` (+ optional
            costs), priority >= 2; None or empty: no alternates.

    Returns:
        (routes, ignored). ``routes``: ROUTE_COLUMNS, one row per usable alternate, sorted by SKU,
        primary resource and priority. ``ignored``: ``sku, resource_id, reason`` of alternates
        that cannot be used (no rate, primary resource ambiguous or not on the SKU's routing,
        already a primary resource of the SKU).
    """
    routes = pd.DataFrame(columns=ROUTE_COLUMNS)
    ignored = pd.DataFrame(columns=IGNORED_COLUMNS)
    if alternates is None or alternates.empty:
        return routes, ignored
    prim = primary.copy()
    prim["unit_cost"] = _cost(prim)
    prim = prim[pd.to_numeric(prim["units_per_hour"], errors="coerce") > 0]
    by_sku = {s: g.set_index("resource_id") for s, g in prim.groupby("sku", sort=False)}
    alt = alternates.copy()
    alt["unit_cost"] = _cost(alt)
    rows, bad = [], []
    for r in alt.itertuples(index=False):
        own = by_sku.get(r.sku)
        rate = pd.to_numeric(pd.Series([r.units_per_hour]), errors="coerce").iloc[0]
        target = r.alternate_for if isinstance(r.alternate_for, str) and r.alternate_for.strip() else None
        if own is None:
            bad.append((r.sku, r.resource_id, "the SKU has no primary routing"))
        elif not (rate > 0):
            bad.append((r.sku, r.resource_id, f"units_per_hour {r.units_per_hour!r} must be > 0"))
        elif r.resource_id in own.index:
            bad.append((r.sku, r.resource_id, "already a primary resource of the SKU"))
        elif target is None and len(own) != 1:
            bad.append((r.sku, r.resource_id, f"alternate_for is empty and the SKU has {len(own)} primary resources"))
        elif target is not None and target.strip() not in own.index:
            bad.append((r.sku, r.resource_id, f"alternate_for {target} is not on the SKU's primary routing"))
        else:
            src = target.strip() if target is not None else own.index[0]
            rows.append(
                (
                    r.sku,
                    src,
                    r.resource_id,
                    int(r.priority),
                    float(own.at[src, "units_per_hour"]),
                    float(rate),
                    float(r.unit_cost - own.at[src, "unit_cost"]),
                )
            )
    if rows:
        routes = pd.DataFrame(rows, columns=ROUTE_COLUMNS).sort_values(
            ["sku", "from_resource_id", "priority", "to_resource_id"], kind="stable", ignore_index=True
        )
    if bad:
        ignored = pd.DataFrame(bad, columns=IGNORED_COLUMNS)
    return routes, ignored


@dataclass(frozen=True)
class Route:
    """One usable alternate of SKU row ``i`` in the plan's arrays: resource index ``src`` -> ``dst``."""

    src: int
    dst: int
    priority: int
    hours_per_unit: float  # on the alternate
    extra_cost_per_unit: float


def route_index(routes: pd.DataFrame, skus: list, resources: list) -> dict[int, list[Route]]:
    """Routes by SKU position in ``skus`` (priority order), resources as positions in ``resources``."""
    sku_pos = {s: i for i, s in enumerate(skus)}
    res_pos = {r: k for k, r in enumerate(resources)}
    out: dict[int, list[Route]] = {}
    for r in routes.sort_values(["sku", "priority", "to_resource_id"], kind="stable").itertuples(index=False):
        if r.sku in sku_pos and r.from_resource_id in res_pos and r.to_resource_id in res_pos:
            out.setdefault(sku_pos[r.sku], []).append(
                Route(
                    res_pos[r.from_resource_id],
                    res_pos[r.to_resource_id],
                    int(r.priority),
                    1.0 / float(r.to_units_per_hour),
                    float(r.extra_cost_per_unit),
                )
            )
    return out


def units_that_fit(free: np.ndarray, hours_per_unit: np.ndarray) -> float:
    """How many units fit in ``free`` hours (per resource) when one unit takes ``hours_per_unit`` on
    each (0 = not used): the fewest over the resources it uses; inf when it uses none. The plan's
    fit, its build-ahead and the offloads all count with it."""
    needs = hours_per_unit > 0
    return float((np.maximum(free[needs], 0.0) / hours_per_unit[needs]).min()) if needs.any() else np.inf


def offload(
    short: float, free: np.ndarray, per_unit: np.ndarray, routes: list[Route]
) -> tuple[np.ndarray, list[tuple[Route, float]]]:
    """Place ``short`` units of one SKU on its alternates (priority order) within ``free`` hours.

    ``per_unit``: hours per unit of the SKU on each resource of its primary routing. A unit on a
    route uses the route's hours on its alternate instead of the hours on the primary resource it
    replaces, and the SKU's other primary resources as before. Returns (free hours left, [(route,
    units)] for the routes that took units).
    """
    free = free.copy()
    taken = []
    left = float(short)
    for route in routes:
        if left <= _EPS:
            break
        use = per_unit.astype(float).copy()
        use[route.src] = 0.0
        use[route.dst] += route.hours_per_unit
        units = min(left, units_that_fit(free, use))
        if units <= _EPS:
            continue
        free = free - units * use
        taken.append((route, units))
        left -= units
    return free, taken
