"""Demand review rows for the cycle at ``end_date``: planners' overrides (the `forecast_overrides`
extract) and one rush order booked above the forecast (appended to `sales_orders`).

A handful of rows, chosen so that every path of `sop_pipeline.analytics.overrides` fires on the demo:

* OVR-001 - SKU level, units: the median active Snacks SKU at 1.3x its expected demand, weeks 2-5;
* OVR-002 - family Snacks -10 % in weeks 3-6 (statistical profile): the conflicting pair with
  OVR-001, so in weeks 3-5 the SKU keeps its override and the family's -10 % is spread over the
  other Snacks SKUs;
* OVR-003 - total +5 % in weeks 5-6 with the ``last_year`` profile (the holiday weeks);
* OVR-004 - family Dairy at 80 % of its expected units, weeks 1-2 (flat profile): *not approved*;
* OVR-005 - family Frozen at 110 % of its expected units per week, weeks 7-9, flat profile;
* OVR-006 / OVR-007 - the largest active Beverages SKU +20 % in weeks 1-2, then +10 % in week 2
  entered later: OVR-007 supersedes OVR-006 in week 2.

The rush order (`rush_order`): an open line of 5x the weekly expected demand of the largest active
SKU without B2B order lines (so sensing, which reads B2B bookings against the usual booking curve,
does not absorb it), due in horizon week 2: more than the forecast inside the consumption window,
so the plan of record plans the excess.

Deterministic (no random stream): every other extract and row is the same with or without these.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from .config import Calendar
from .items import Catalog

HORIZON = 13


def forecast_overrides(cat: Catalog, demand_wk: np.ndarray, cal: Calendar) -> dict:
    """The extract's columns (see the module docstring). ``demand_wk``: expected units per FG x week."""
    fg = cat.fg.reset_index(drop=True)
    horizon = demand_wk[:, cal.weeks : cal.weeks + HORIZON]
    mean_wk = horizon.mean(axis=1)
    active = (fg.lifecycle == "active").to_numpy()

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

    snack, bev = median("Snacks"), top("Beverages")
    rows = [
        ("OVR-001", "sku", fg.sku[snack], 2, 5, "units", round(1.3 * mean_wk[snack]), "", "new listing at a key account", "demand.planner.snacks", True, 4),
        ("OVR-002", "family", "Snacks", 3, 6, "pct", -10.0, "statistical", "competitor price cut", "demand.planner.snacks", True, 3),
        ("OVR-003", "total", "", 5, 6, "pct", 5.0, "last_year", "holiday weeks uplift", "demand.lead", True, 2),
        ("OVR-004", "family", "Dairy", 1, 2, "units", round(0.8 * family_units("Dairy")), "flat", "dairy supply issue at retail partner", "demand.planner.dairy", False, 2),
        ("OVR-005", "family", "Frozen", 7, 9, "units", round(1.1 * family_units("Frozen")), "flat", "freezer-space campaign", "demand.planner.frozen", True, 1),
        ("OVR-006", "sku", fg.sku[bev], 1, 2, "pct", 20.0, "", "distributor restocking", "demand.planner.beverages", True, 12),
        ("OVR-007", "sku", fg.sku[bev], 2, 2, "pct", 10.0, "", "restocking smaller than first told", "demand.planner.beverages", True, 5),
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


RUSH_ORDER_ID = "SO-RUSH-001"


def rush_order(sales_orders: dict, cat: Catalog, demand_wk: np.ndarray, cal: Calendar) -> dict:
    """`sales_orders` (the extract's columns) with the rush order line appended (module docstring)."""
    fg = cat.fg.reset_index(drop=True)
    mean_wk = demand_wk[:, cal.weeks : cal.weeks + HORIZON].mean(axis=1)
    ordered = np.isin(fg.sku.to_numpy(), np.asarray(sales_orders["sku"]))  # SKUs with B2B order lines
    rows = np.flatnonzero((fg.lifecycle == "active").to_numpy() & ~ordered)
    s = int(rows[np.argmax(mean_wk[rows])])
    week1 = cal.end + timedelta(days=1)
    due = np.datetime64(week1 + timedelta(days=9))  # Wednesday of horizon week 2
    line = {
        "order_id": RUSH_ORDER_ID,
        "line": 1,
        "customer_id": cat.customers.customer_id.to_numpy()[0],
        "sku": fg.sku[s],
        "order_date": np.datetime64(cal.end - timedelta(days=3)),
        "requested_date": due,
        "promised_date": due,
        "qty": float(round(5 * mean_wk[s])),
        "unit_price": float(fg.unit_price[s]),
        "status": "open",
    }
    return {
        k: np.append(np.asarray(v), np.asarray([line[k]], dtype=np.asarray(v).dtype)) for k, v in sales_orders.items()
    }
