"""Supply review inputs from warehouse frames: the rough-cut make volume, the daily OEE losses, the
changeover hours per machine-week, the sequencer's due dates and current setups, historical OEE and
labour pools' hours. The algorithms they feed are in `oee`, `mps` (with `sequencing`) and `capacity`.

Pure pandas; aggregates equal the SQL they replaced (`aggregate`). Hours, units, minutes as named.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from sop_pipeline.analytics import capacity
from sop_pipeline.analytics.aggregate import sql_median

OEE_WEEKLY_COLUMNS = [
    "resource_id",
    "week_start",
    "planned_hours",
    "run_hours",
    "availability",
    "performance",
    "quality",
    "oee",
]
CHANGEOVER_WEEKLY_COLUMNS = ["resource_id", "week_start", "changeover_hours_planned", "changeover_hours_actual"]


def _monday(days: pd.Series) -> pd.Series:
    days = pd.to_datetime(days)
    return days.dt.normalize() - pd.to_timedelta(days.dt.day_of_week, unit="D")


def planned_make_units(forecast: pd.DataFrame, horizon_weeks: int, source: pd.Series) -> pd.DataFrame:
    """Rough-cut volume on the lines per SKU x horizon week, before the plan exists: the demand
    forecast (p50, units) of horizon weeks 1..horizon_weeks of the SKUs made after approved
    make-vs-buy decisions (``source``: make/buy per SKU). Columns ``sku, week_start, units``."""
    fc = forecast[forecast["horizon_week"].between(1, horizon_weeks)][["sku", "week_start", "units_p50"]]
    fc = fc.rename(columns={"units_p50": "units"})
    made = set(source[source.astype(str).str.lower() == "make"].index)
    return fc[fc.sku.isin(made)].reset_index(drop=True)


def resource_time_with_losses(resource_time: pd.DataFrame, downtime: pd.DataFrame) -> pd.DataFrame:
    """Daily resource time (``date, resource_id, planned_hours, run_hours, ...``) with its availability
    loss (planned - run hours) split into planned and unplanned downtime (the events of the day,
    scaled down if they exceed the loss) and changeover (the rest, never negative)."""
    rt = resource_time.copy()
    if not len(downtime):
        return rt
    days = downtime.assign(
        date=pd.to_datetime(downtime.start).dt.normalize(),
        hours=(pd.to_datetime(downtime["end"]) - pd.to_datetime(downtime.start)) / pd.Timedelta(hours=1),
    )
    by_day = days.pivot_table(
        index=["resource_id", "date"], columns="planned", values="hours", aggfunc="sum", fill_value=0.0
    )
    by_day = by_day.rename(columns={True: "planned_downtime_hours", False: "unplanned_downtime_hours"})
    rt["date"] = pd.to_datetime(rt.date)
    rt = rt.merge(by_day.reset_index(), on=["resource_id", "date"], how="left")
    for col in ("planned_downtime_hours", "unplanned_downtime_hours"):
        rt[col] = rt.get(col, pd.Series(0.0, index=rt.index)).fillna(0.0)
    lost = (rt.planned_hours - rt.run_hours).clip(lower=0.0)
    down = rt.planned_downtime_hours + rt.unplanned_downtime_hours
    scale = np.where(down > lost, lost / down.where(down > 0, 1.0), 1.0)
    rt["planned_downtime_hours"] *= scale
    rt["unplanned_downtime_hours"] *= scale
    rt["changeover_hours"] = (lost - rt.planned_downtime_hours - rt.unplanned_downtime_hours).clip(lower=0.0)
    return rt


def production_orders_in_sequence(production_orders: pd.DataFrame, routings: pd.DataFrame) -> pd.DataFrame:
    """Production orders that are not cancelled with their routing's setup family, per resource in
    planned order: ``resource_id, planned_start, setup_family``."""
    orders = production_orders[production_orders["status"].notna() & (production_orders["status"] != "cancelled")]
    joined = orders[["sku", "resource_id", "planned_start"]].merge(
        routings[["sku", "resource_id", "setup_family"]], on=["sku", "resource_id"], how="inner"
    )
    return joined.sort_values(["resource_id", "planned_start"], kind="stable", ignore_index=True)[
        ["resource_id", "planned_start", "setup_family"]
    ]


def changeover_weekly(orders: pd.DataFrame, changeovers: pd.DataFrame, weekly_oee: pd.DataFrame) -> pd.DataFrame:
    """Changeover hours per machine-week: planned = changeover matrix minutes between consecutive
    production orders (``production_orders_in_sequence``); actual = the OEE week's changeover hours."""
    orders = orders.copy()
    minutes = changeovers.set_index(["resource_id", "from_key", "to_key"]).changeover_minutes
    orders["prev"] = orders.groupby("resource_id").setup_family.shift()
    keys = list(zip(orders.resource_id, orders.prev, orders.setup_family))
    orders["minutes"] = [minutes.get(k, 0.0) if k[1] is not None and k[1] == k[1] else 0.0 for k in keys]
    orders["week_start"] = _monday(orders.planned_start)
    planned = orders.groupby(["resource_id", "week_start"], as_index=False).minutes.sum()
    planned["changeover_hours_planned"] = planned.minutes / 60.0
    actual = weekly_oee[["resource_id", "week_start"]].copy()
    actual["changeover_hours_actual"] = weekly_oee.get("changeover_hours", pd.Series(np.nan, index=weekly_oee.index))
    actual["week_start"] = pd.to_datetime(actual.week_start)
    return actual.merge(
        planned[["resource_id", "week_start", "changeover_hours_planned"]], on=["resource_id", "week_start"], how="left"
    )


def open_order_dues(sales_orders: pd.DataFrame) -> pd.DataFrame:
    """Earliest requested date of the open sales orders per SKU and ISO week: ``sku, due, week_start``."""
    open_lines = sales_orders[sales_orders["status"] == "open"]
    lines = pd.DataFrame({"sku": open_lines["sku"], "due": pd.to_datetime(open_lines["requested_date"])})
    lines["week_start"] = _monday(lines["due"])
    return lines.groupby(["sku", "week_start"], sort=False, dropna=False, as_index=False).due.min()[
        ["sku", "due", "week_start"]
    ]


def current_setups(production_orders: pd.DataFrame, routings: pd.DataFrame, before: date) -> dict[str, str]:
    """The setup family each resource was last set up for: that of its latest production order
    planned to start before ``before`` (week 1 of the horizon)."""
    orders = production_orders[["sku", "resource_id", "planned_start"]].merge(
        routings[["sku", "resource_id", "setup_family"]], on=["sku", "resource_id"], how="inner"
    )
    orders = orders[pd.to_datetime(orders.planned_start) < pd.Timestamp(before)]
    if orders.empty:
        return {}
    last = orders.loc[orders.groupby("resource_id", sort=False).planned_start.idxmax()]
    return dict(zip(last.resource_id, last.setup_family))


def historical_oee(oee_weekly: pd.DataFrame) -> pd.DataFrame:
    """Median weekly performance and quality per resource: ``resource_id, performance, quality``."""
    return sql_median(oee_weekly, ["resource_id"], ["performance", "quality"])


def labor_pool_hours(cap: pd.DataFrame, skills: pd.DataFrame) -> pd.DataFrame:
    """A labour pool's available hours are its qualified people's weekly hours (skills), not the
    plant calendar: replace them for labour-type resources with skills rows, then recompute load
    and the bottleneck."""
    people = capacity.qualified_hours(skills).groupby("resource_id").qualified_hours.sum()
    labor = (cap.type == "labor") & cap.resource_id.isin(people.index)
    cap = cap.copy()
    factor = cap.get("availability_factor", pd.Series(1.0, index=cap.index)).fillna(1.0)
    cap.loc[labor, "available_hours"] = cap.loc[labor, "resource_id"].map(people) * factor[labor]
    return capacity.mark_load(cap)
