"""The exception workflow (issue 17 item 4): one `exceptions` mart of everything that needs a person, with
an owner from RACI and a status that carries across cycles. A thin wrapper around
`sop_pipeline.analytics.exceptions`.

It runs after the dbt marts step (it reads the marts that raise things: `kpi_alerts`,
`datapack_risk_board`, `demand_flags`; and the plan's `analytics.decision_log`, `analytics.plan_of_record`,
`analytics.demand_plan_controls`) and writes the served tables `marts.exceptions` and
`marts.exception_update_issues` itself, through the warehouse IO manager, so no Python asset sits between
two dbt marts and dbt still runs twice per cycle. Publish depends on them. History is the partitions:
the IO manager keeps each cycle's copy of `exceptions` in `history.exceptions` (`sop/history`); the
previous cycle's copy is read back here (`history.previous_cycle_rows`) for the status, the first cycle
raised and the auto-close. When the MRP's `marts/purchase_requirements` exists (with a late flag) it is
read too: late purchase components become exceptions.
"""

import dagster as dg
import pandas as pd

from sop_pipeline.analytics import exceptions as ex
from sop_pipeline.assets.common import absent_in, as_of_date, markdown_table, table_in, warehouse_asset
from sop_pipeline.history import previous_cycle_rows
from sop_pipeline.resources import WAREHOUSE_POOL, Warehouse

GROUP = "plan"
EXCEPTIONS = dg.AssetKey(["marts", "exceptions"])
ISSUES = dg.AssetKey(["marts", "exception_update_issues"])
HISTORY_TABLE = ("history", "exceptions")

INPUT_TABLES = {
    "cycle": ("meta", "cycle"),
    "ingest_log": ("meta", "ingest_log"),
    "kpi_alerts": ("marts", "kpi_alerts"),
    "risk_board": ("marts", "datapack_risk_board"),
    "demand_flags": ("marts", "demand_flags"),
    "decision_log": ("analytics", "decision_log"),
    "plan": ("analytics", "plan_of_record"),
    "demand_plan_controls": ("analytics", "demand_plan_controls"),
    "updates": ("staging", "stg_sop__exception_updates"),
    "raci": ("staging", "stg_sop__raci"),
}
# Hook for issue 17 item 1 (MRP): late purchase components, read when the mart is defined.
PURCHASE_REQUIREMENTS = ("marts", "purchase_requirements")


def _mrp_defined() -> bool:
    try:
        from sop_pipeline.assets.dbt import MART_KEYS
    except ImportError:  # pragma: no cover - dbt assets always load in this project
        return False
    return dg.AssetKey(list(PURCHASE_REQUIREMENTS)) in MART_KEYS


if _mrp_defined():
    INPUT_TABLES["purchase_requirements"] = PURCHASE_REQUIREMENTS

CHECK_DESCRIPTIONS = [
    ("exception_keys_unique", "Every exception key appears once in the cycle's exceptions."),
    (
        "exceptions_cover_sources",
        "Every item that needs a person (KPI alert, risk-board item, demand flag, proposal, infeasible plan row, "
        "demand-plan control difference, late purchase) is in the exceptions exactly once, and none is closed as "
        "resolved while its condition is there; none is open once its condition is gone.",
    ),
    ("exception_ages_valid", "Every exception's age (weeks since first raised) is >= 0."),
    (
        "closed_exceptions_have_reason",
        "Every closed exception says why (resolved, or closed by whom); every one has an owner.",
    ),
]


def _check_breaks(name: str, breaks: list[str]) -> list[str]:
    words = {
        "exception_keys_unique": ("more than once",),
        "exceptions_cover_sources": ("not listed exactly once", "closed as resolved", "condition is gone"),
        "exception_ages_valid": ("negative age",),
        "closed_exceptions_have_reason": ("without a reason", "without an owner", "unknown status"),
    }[name]
    return [b for b in breaks if any(w in b for w in words)]


@dg.multi_asset(
    name="exceptions",
    outs={
        "exceptions": dg.AssetOut(
            key=EXCEPTIONS,
            **warehouse_asset(GROUP, history="history.exceptions"),
            description="Everything in this cycle's data pack that needs a person, one row per exception: a stable "
            "key (hash of kind + natural key), kind, area, subject, message, severity, owner (RACI, or an update's "
            "override), status open/acknowledged/closed with its reason, the cycle it was first raised in, its age "
            "in weeks and the cycle it was last seen in. Exceptions of the previous cycle whose condition is gone "
            "are closed as resolved in this cycle. Each cycle's copy is kept in history.exceptions.",
        ),
        "exception_update_issues": dg.AssetOut(
            key=ISSUES,
            **warehouse_asset(GROUP),
            description="exception_updates rows not applied: their key is no exception of this cycle or of the "
            "previous one (extract, source row, column, value, reason). A bad status is quarantined at ingest.",
        ),
    },
    ins={name: table_in(*key) for name, key in INPUT_TABLES.items()},
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(name, asset=EXCEPTIONS, blocking=True, description=d) for name, d in CHECK_DESCRIPTIONS
    ],
)
def exceptions(context: dg.AssetExecutionContext, warehouse: Warehouse, cycle: pd.DataFrame, **frames):
    as_of = as_of_date(cycle)
    absent = absent_in(frames.pop("ingest_log"))
    updates = None if "exception_updates" in absent else frames.pop("updates")
    raci = None if "raci" in absent else frames.pop("raci")
    with warehouse.tables(read_only=True) as tables:
        prior = previous_cycle_rows(tables, *HISTORY_TABLE, as_of)
    cands = ex.candidates(
        kpi_alerts=frames["kpi_alerts"],
        risk_board=frames["risk_board"],
        demand_flags=frames["demand_flags"],
        decision_log=frames["decision_log"],
        plan=frames["plan"],
        demand_plan_controls=frames["demand_plan_controls"],
        purchase_requirements=frames.get("purchase_requirements"),
    )
    out, issues = ex.carry_forward(cands, ex.assign_owner(cands, raci), prior, updates, as_of)
    for reason in issues.reason.head(5):
        context.log.warning(reason)
    counts = out.groupby(["kind", "status"]).size().rename("rows").reset_index()
    yield dg.Output(
        out,
        output_name="exceptions",
        metadata={
            "open": int((out.status == "open").sum()),
            "acknowledged": int((out.status == "acknowledged").sum()),
            "closed": int((out.status == "closed").sum()),
            "previous_cycle": "" if prior is None else str(pd.Timestamp(prior.cycle_id.iloc[0]).date()),
            "by_kind_and_status": dg.MetadataValue.md(markdown_table(counts, max_rows=30)),
        },
    )
    yield dg.Output(issues, output_name="exception_update_issues", metadata={"rejected_updates": len(issues)})
    breaks = ex.exception_breaks(out, cands)
    for name, description in CHECK_DESCRIPTIONS:
        found = _check_breaks(name, breaks)
        yield dg.AssetCheckResult(
            asset_key=EXCEPTIONS,
            check_name=name,
            passed=not found,
            description=description if not found else f"exceptions: {len(found)} break(s): {'; '.join(found[:5])}",
            metadata={"exceptions": len(out), "source_items": len(cands)},
        )


ASSETS = [exceptions]
