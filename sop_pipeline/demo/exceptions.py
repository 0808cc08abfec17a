"""The exception workflow's two optional extracts for the cycle at ``end_date`` (issue 17 item 4):
`raci` (who owns which exceptions) and `exception_updates` (status changes people made since earlier
cycles). A handful of rows, chosen so that every status path of `sop_pipeline.analytics.exceptions`
fires on the demo:

* the drifting supplier's risk (risk-board root cause ``supplier <id>``): *acknowledged* 9 days before
  the as-of, with an owner override (the buyer), so it was first raised two cycles back (age 2);
* the latest unsupported hockey stick (the sales forecast snapshot of the last week): *closed* by the
  family's demand planner 2 days before the as-of (age 1), while the flag is still raised;
* one update of a key that is no exception (an old one): rejected, listed in `exception_update_issues`;
* every other exception stays *open*.

`raci` is the default RACI except inventory, which the demo company gives to its supply planner: the
service-target proposals are owned by "Supply planner" instead of the decision log's Responsible.
Deterministic (no random stream): every other extract is the same with or without these.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pandas as pd

from sop_pipeline.analytics.exceptions import exception_key

from .config import Calendar
from .items import Catalog

RACI = [
    ("kpi", "*", "Ops leader + Commercial leader"),
    ("demand", "*", "Demand planner"),
    ("inventory", "*", "Supply planner"),
    ("supply", "*", "Master scheduler"),
    ("plan", "*", "Master scheduler"),
    ("procurement", "*", "Procurement"),
    ("finance", "*", "Finance"),
]
UNKNOWN_KEY = "EX-000000000000"


def raci() -> dict:
    return {"area": [r[0] for r in RACI], "kind": [r[1] for r in RACI], "owner": [r[2] for r in RACI]}


def exception_updates(cat: Catalog, hockey: pd.DataFrame, drift: pd.DataFrame, cal: Calendar) -> dict:
    """The extract's columns (see the module docstring)."""
    end = datetime.combine(cal.end, time(0))
    rows = []
    if not drift.empty:
        sup = str(drift.supplier_id.iloc[0])
        rows.append(
            (
                exception_key("risk", f"supplier {sup}"),
                "acknowledged",
                f"Buyer ({sup} account)",
                "asked for a recovery plan and a second source quote",
                "procurement.lead",
                end - timedelta(days=9, hours=-10),
            )
        )
    if not hockey.empty:
        last = hockey.sort_values(["snapshot_date", "sku"]).iloc[-1]
        family = str(cat.fg.set_index("sku").family[last.sku])
        week = pd.Timestamp(last.first_week_start).date().isoformat()
        rows.append(
            (
                exception_key("demand_flag", f"hockey_stick:{family}:{last.sku}:{week}"),
                "closed",
                None,
                "customer confirmed the launch volume in writing",
                f"demand.planner.{family.lower()}",
                end - timedelta(days=2, hours=-15),
            )
        )
    rows.append(
        (UNKNOWN_KEY, "closed", None, "closed in the old tool", "sop.office", end - timedelta(days=3, hours=-9))
    )
    cols = ["exception_key", "status", "owner", "note", "updated_by", "updated_at"]
    return {c: [r[i] for r in rows] for i, c in enumerate(cols)}
