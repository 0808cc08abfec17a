"""Demand planners' overrides for the cycle at ``end_date`` (the `forecast_overrides` extract).

A handful of rows, chosen so that every path of `sop_pipeline.analytics.overrides` fires on the demo:

* OVR-001 - SKU level, units: the median active Snacks SKU at 1.3x its expected demand, weeks 2-5;
* OVR-002 - family Snacks -10 % in weeks 3-6 (statistical profile): the conflicting pair with
  OVR-001, so in weeks 3-5 the SKU keeps its override and the family's -10 % is spread over the
  other Snacks SKUs;
* OVR-003 - total +5 % in weeks 5-6 with the ``last_year`` profile (the holiday weeks);
* OVR-004 - family Dairy at 80 % of its expected units, weeks 1-2 (flat profile): *not approved*;
* OVR-005 - family Frozen at 110 % of its expected units per week, weeks 7-9, flat profile;
* OVR-006 / OVR-007 - the largest active Beverages SKU +20 % in weeks 1-2, then +10 % in week 2
  entered later: OVR-007 supersedes OVR-006 in week 2;
* OVR-008 - the SKU (outside Snacks) with the most open B2B order units due in weeks 1-4, -90 % in
  weeks 1-4 (a retailer delisting; the booked orders still ship): its forecast falls below what is
  booked, so consumption keeps the plan at remaining forecast + booked (never less than booked).

Earlier cycles' overrides (weeks already past at ``end_date``; the cycle's own log leaves them out,
forecast value added replays them at the backtest's origins to score the override step):

* OVR-H01 - family Frozen +15 % in horizon weeks -19..-12 (a freezer campaign that did not run);
* OVR-H02 - the largest active Dairy SKU at its expected weekly units, weeks -9..-4 (a new listing);
* OVR-H03 - total -5 % in weeks -7..-6: *not approved*.

Deterministic (no random stream): every other extract is the same with or without this one.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from .config import Calendar
from .items import Catalog
from .orders import OrderBook

HORIZON = 13


def forecast_overrides(cat: Catalog, demand_wk: np.ndarray, book: OrderBook, cal: Calendar) -> dict:
    """The extract's columns (see the module docstring). ``demand_wk``: expected units per FG x week;
    ``book``: the order book (open lines as of ``end_date``)."""
    fg = cat.fg.reset_index(drop=True)
    horizon = demand_wk[:, cal.weeks : cal.weeks + HORIZON]
    mean_wk = horizon.mean(axis=1)
    active = ((fg.lifecycle == "active") & (fg.season_open < 0)).to_numpy()  # the seasonal line keeps its own story

    def top(family: str) -> int:
        rows = np.flatnonzero(active & (fg.family == family).to_numpy())
        return int(rows[np.argmax(mean_wk[rows])])

    def median(family: str) -> int:
        rows = np.flatnonzero(active & (fg.family == family).to_numpy())
        return int(rows[np.argsort(mean_wk[rows], kind="stable")[len(rows) // 2]])

    def family_units(family: str) -> float:
        return float(mean_wk[(fg.family == family).to_numpy()].sum())

    week1 = cal.end + timedelta(days=1)

    def wk(n: int) -> str:  # a Wednesday inside horizon week n (any day of the week works)
        return (week1 + timedelta(days=7 * (n - 1) + 2)).isoformat()

    snack, bev, dairy = median("Snacks"), top("Beverages"), top("Dairy")
    dairy_units = round(float(demand_wk[dairy, cal.weeks - 10 : cal.weeks - 4].mean()))
    ln = book.lines
    due = ln[
        ln.status.isin(["open", "partially_shipped"])
        & (ln.requested_day >= cal.n_days)
        & (ln.requested_day < cal.n_days + 28)
    ]
    booked = np.bincount(due.sku_idx.to_numpy(), due.qty.to_numpy(), minlength=cat.n_fg)
    booked[(fg.family == "Snacks").to_numpy() | (np.arange(cat.n_fg) == bev) | ~active] = 0
    delisted = int(np.argmax(booked))
    rows = [
        ("OVR-001", "sku", fg.sku[snack], 2, 5, "units", round(1.3 * mean_wk[snack]), "", "new listing at a key account", "demand.planner.snacks", True, 4),
        ("OVR-002", "family", "Snacks", 3, 6, "pct", -10.0, "statistical", "competitor price cut", "demand.planner.snacks", True, 3),
        ("OVR-003", "total", "", 5, 6, "pct", 5.0, "last_year", "holiday weeks uplift", "demand.lead", True, 2),
        ("OVR-004", "family", "Dairy", 1, 2, "units", round(0.8 * family_units("Dairy")), "flat", "dairy supply issue at retail partner", "demand.planner.dairy", False, 2),
        ("OVR-005", "family", "Frozen", 7, 9, "units", round(1.1 * family_units("Frozen")), "flat", "freezer-space campaign", "demand.planner.frozen", True, 1),
        ("OVR-006", "sku", fg.sku[bev], 1, 2, "pct", 20.0, "", "distributor restocking", "demand.planner.beverages", True, 12),
        ("OVR-007", "sku", fg.sku[bev], 2, 2, "pct", 10.0, "", "restocking smaller than first told", "demand.planner.beverages", True, 5),
        ("OVR-008", "sku", fg.sku[delisted], 1, 4, "pct", -90.0, "", "retailer delisting; booked orders still ship", "demand.lead", True, 3),
        # earlier cycles' overrides, weeks already past (see the module docstring)
        ("OVR-H01", "family", "Frozen", -19, -12, "pct", 15.0, "statistical", "freezer campaign", "demand.planner.frozen", True, 149),
        ("OVR-H02", "sku", fg.sku[dairy], -9, -4, "units", dairy_units, "", "new listing at a key account", "demand.planner.dairy", True, 80),
        ("OVR-H03", "total", "", -7, -6, "pct", -5.0, "statistical", "soft market", "demand.lead", False, 60),
    ]  # fmt: skip
    cols = list(zip(*rows))
    return {
        "override_id": np.array(cols[0]),
        "level": np.array(cols[1]),
        "key": np.array(cols[2], dtype=object),
        "week_from": np.array([wk(n) for n in cols[3]], dtype="datetime64[D]"),
        "week_to": np.array([wk(n) for n in cols[4]], dtype="datetime64[D]"),
        "mode": np.array(cols[5]),
        "value": np.array(cols[6], dtype=float),
        "profile": np.array(cols[7], dtype=object),
        "reason": np.array(cols[8], dtype=object),
        "author": np.array(cols[9], dtype=object),
        "approved": np.array(cols[10], dtype=bool),
        # entered N days before the cycle's as-of, at 09:00
        "created_at": np.array(
            [f"{(cal.end - timedelta(days=d)).isoformat()}T09:00:00" for d in cols[11]], dtype="datetime64[s]"
        ),
    }
