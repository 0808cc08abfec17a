"""The decision log: decisions from the extract plus those the pipeline proposes, with RACI.

RACI (seed article): Accountable = Ops leader + Commercial leader (co-own the plan);
Responsible = Demand planner (forecast: substitution, service_target) or Master scheduler
(supply/sequence: freeze_window, make_vs_buy, expedite); Consulted = Quality, Procurement,
Finance; Informed = Plant leads, Customer service. A decision is yes or no: "maybe" never
reaches the log (the ingest quarantines it with a clear message). Demand planners' forecast
overrides are logged too (kind forecast_override, source override, Responsible = the author):
approved ones with what they did to the consensus, the others as proposed. The plan's offloads to
alternate resources are logged as kind offload (status applied, source pipeline, Responsible =
Master scheduler): one row per SKU, week and primary -> alternate resource, with the units, the
hours on each resource and the extra cost. Pure pandas; no Dagster.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

KINDS = (
    "freeze_window",
    "substitution",
    "make_vs_buy",
    "expedite",
    "service_target",
    "forecast_override",
    "offload",
)
ACCOUNTABLE = "Ops leader + Commercial leader"
RESPONSIBLE = {
    "substitution": "Demand planner",
    "service_target": "Demand planner",
    "freeze_window": "Master scheduler",
    "make_vs_buy": "Master scheduler",
    "expedite": "Master scheduler",
    "forecast_override": "Demand planner",
    "offload": "Master scheduler",
}
CONSULTED = "Quality, Procurement, Finance"
INFORMED = "Plant leads, Customer service"
LOG_COLUMNS = [
    "decision_id",
    "cycle",
    "kind",
    "subject",
    "value",
    "approved",
    "status",
    "source",
    "accountable",
    "responsible",
    "consulted",
    "informed",
    "decided_at",
    "effect",
]


def decision_id(cycle, kind: str, subject: str) -> str:
    """Stable id for a decision row that came without one (or a pipeline proposal)."""
    digest = hashlib.sha1(f"{cycle}|{kind}|{subject}".encode()).hexdigest()[:8]
    return f"D-{pd.Timestamp(cycle).date().isoformat()}-{digest}"


def override_decisions(log: pd.DataFrame, cycle) -> pd.DataFrame:
    """Decision-log rows (LOG_COLUMNS) of the forecast overrides (`analytics.overrides` log): an
    approved override is status approved with its effect on the consensus (or why it did nothing);
    an unapproved one is proposed (listed, not applied)."""
    if log is None or log.empty:
        return pd.DataFrame(columns=LOG_COLUMNS)

    def value(r) -> str:
        amount = f"{r.value:+g} %" if r.mode == "pct" else f"{r.value:g} units/week"
        weeks = f"{pd.Timestamp(r.week_from).date()}..{pd.Timestamp(r.week_to).date()}"
        profile = f", spread by {r.profile}" if r.level != "sku" else ""
        return f"{amount}, weeks {weeks}{profile}" + (
            f" ({r.reason})" if isinstance(r.reason, str) and r.reason else ""
        )

    def effect(r) -> str:
        if r.status in ("applied",):
            text = f"consensus {r.delta_units:+,.0f} units over {r.sku_weeks} SKU-weeks"
            return text + (f"; {r.note}" if isinstance(r.note, str) and r.note else "")
        return "none: awaiting approval" if r.status == "not approved" else f"none: {r.status}"

    approved = log["approved"].astype(bool)
    return pd.DataFrame(
        {
            "decision_id": log["override_id"].astype(str),
            "cycle": pd.Timestamp(cycle).date(),
            "kind": "forecast_override",
            "subject": [f"{lv}:{k}" if lv != "total" else "total" for lv, k in zip(log["level"], log["key"])],
            "value": [value(r) for r in log.itertuples()],
            "approved": np.where(approved, "yes", None),
            "status": np.where(approved, "approved", "proposed"),
            "source": "override",
            "accountable": ACCOUNTABLE,
            "responsible": log["author"].where(log["author"].notna() & (log["author"].astype(str) != ""), None),
            "consulted": CONSULTED,
            "informed": INFORMED,
            "decided_at": pd.to_datetime(log["created_at"]),
            "effect": [effect(r) for r in log.itertuples()],
        }
    )


def offload_decisions(offloads: pd.DataFrame | None, cycle) -> pd.DataFrame:
    """Decision-log rows (LOG_COLUMNS) of the plan's offloads to alternate resources
    (``offload.OFFLOAD_COLUMNS``): kind offload, status applied, subject ``SKU week: FROM->TO``,
    value the units and hours, effect the extra cost."""
    if offloads is None or offloads.empty:
        return pd.DataFrame(columns=LOG_COLUMNS)
    o = offloads.sort_values(["sku", "week_start", "priority", "to_resource_id"], kind="stable")
    subjects = [
        f"{r.sku} {pd.Timestamp(r.week_start).date().isoformat()}: {r.from_resource_id}->{r.to_resource_id}"
        for r in o.itertuples()
    ]
    return pd.DataFrame(
        {
            "decision_id": [decision_id(cycle, "offload", s) for s in subjects],
            "cycle": pd.Timestamp(cycle).date(),
            "kind": "offload",
            "subject": subjects,
            "value": [
                f"{r.units:,.0f} units ({r.to_hours:,.1f} h on {r.to_resource_id} instead of "
                f"{r.from_hours:,.1f} h on {r.from_resource_id})"
                for r in o.itertuples()
            ],
            "approved": None,
            "status": "applied",
            "source": "pipeline",
            "accountable": ACCOUNTABLE,
            "responsible": RESPONSIBLE["offload"],
            "consulted": CONSULTED,
            "informed": INFORMED,
            "decided_at": pd.NaT,
            "effect": [f"extra cost {r.extra_cost:,.0f}" for r in o.itertuples()],
        }
    )


def decision_log(
    decisions: pd.DataFrame,
    proposals: pd.DataFrame,
    effects: dict[str, str],
    cycle,
    overrides: pd.DataFrame | None = None,
    offloads: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per decision: logged ones (approved yes -> status approved, no -> rejected) and
    the pipeline's proposals for this cycle (status proposed, awaiting yes/no).

    Args:
        decisions: the extract ``[cycle, kind, subject, value, approved, accountable, responsible,
            decided_at]`` (+ optional decision_id).
        proposals: ``[kind, subject, value, effect]`` proposed by the pipeline this cycle.
        effects: decision_id -> effect on this cycle's plan (text).
        cycle: this cycle's as-of date.
        overrides: the forecast-override log (`analytics.overrides`), logged by `override_decisions`.
        offloads: the plan's offloads to alternate resources, logged by `offload_decisions`.
    """
    logged = decisions.copy()
    if "decision_id" not in logged or logged.decision_id.isna().any():
        generated = [decision_id(c, k, s) for c, k, s in zip(logged.cycle, logged.kind, logged.subject)]
        logged["decision_id"] = logged.get("decision_id", pd.Series(index=logged.index, dtype=object)).fillna(
            pd.Series(generated, index=logged.index)
        )
    logged["approved"] = logged.approved.str.lower()
    logged["status"] = logged.approved.map({"yes": "approved", "no": "rejected"})
    logged["source"] = "meeting"
    logged["effect"] = logged.decision_id.map(effects).fillna(
        logged.status.map({"rejected": "none: rejected", "approved": "applied in an earlier cycle"})
    )
    # one proposal per (kind, subject): the id is derived from them, so repeats would collide
    proposed = (
        proposals.groupby(["kind", "subject"], as_index=False, sort=False).agg(
            value=("value", "first"), effect=("effect", lambda e: "; ".join(dict.fromkeys(map(str, e))))
        )
        if len(proposals)
        else proposals.copy()
    )
    if len(proposed):
        proposed["cycle"] = pd.Timestamp(cycle)
        proposed["decision_id"] = [decision_id(cycle, k, s) for k, s in zip(proposed.kind, proposed.subject)]
        proposed["approved"] = None
        proposed["status"] = "proposed"
        proposed["source"] = "pipeline"
        proposed["decided_at"] = pd.NaT
    parts = (
        [logged, proposed]
        + ([override_decisions(overrides, cycle)] if overrides is not None and len(overrides) else [])
        + ([offload_decisions(offloads, cycle)] if offloads is not None and len(offloads) else [])
    )
    out = pd.concat(parts, ignore_index=True)
    for column in ("accountable", "responsible"):
        if column not in out:
            out[column] = None
    out["accountable"] = out["accountable"].fillna(ACCOUNTABLE)
    out["responsible"] = out["responsible"].fillna(out.kind.map(RESPONSIBLE))
    out["consulted"] = CONSULTED
    out["informed"] = INFORMED
    out["cycle"] = pd.to_datetime(out.cycle).dt.date
    return out.reindex(columns=LOG_COLUMNS).sort_values(["cycle", "decision_id"], kind="stable").reset_index(drop=True)


def decisions_as_of(decisions: pd.DataFrame, as_of) -> pd.DataFrame:
    """The decision log extract as the plan reads it, from the staged frame (stg_sop__decisions): columns
    renamed to the analytics' names (cycle, value), a decision_id for every row, cycles after the as-of
    left out."""
    decisions = decisions.rename(columns={"cycle_date": "cycle", "decision_value": "value"})
    if "decision_id" not in decisions or decisions.decision_id.isna().any():
        decisions["decision_id"] = [
            decision_id(c, k, s) for c, k, s in zip(decisions.cycle, decisions.kind, decisions.subject)
        ]
    return decisions[pd.to_datetime(decisions.cycle) <= pd.Timestamp(as_of)]
