"""The decision log: decisions from the extract plus those the pipeline proposes, with RACI.

RACI (seed article): Accountable = Ops leader + Commercial leader (co-own the plan);
Responsible = Demand planner (forecast: substitution, service_target) or Master scheduler
(supply/sequence: freeze_window, make_vs_buy, expedite); Consulted = Quality, Procurement,
Finance; Informed = Plant leads, Customer service. A decision is yes or no: "maybe" never
reaches the log (the ingest quarantines it with a clear message). Pure pandas; no Dagster.
"""

from __future__ import annotations

import hashlib

import pandas as pd

KINDS = ("freeze_window", "substitution", "make_vs_buy", "expedite", "service_target")
ACCOUNTABLE = "Ops leader + Commercial leader"
RESPONSIBLE = {
    "substitution": "Demand planner",
    "service_target": "Demand planner",
    "freeze_window": "Master scheduler",
    "make_vs_buy": "Master scheduler",
    "expedite": "Master scheduler",
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


def decision_log(decisions: pd.DataFrame, proposals: pd.DataFrame, effects: dict[str, str], cycle) -> pd.DataFrame:
    """One row per decision: logged ones (approved yes -> status approved, no -> rejected) and
    the pipeline's proposals for this cycle (status proposed, awaiting yes/no).

    Args:
        decisions: the extract ``[cycle, kind, subject, value, approved, accountable, responsible,
            decided_at]`` (+ optional decision_id).
        proposals: ``[kind, subject, value, effect]`` proposed by the pipeline this cycle.
        effects: decision_id -> effect on this cycle's plan (text).
        cycle: this cycle's as-of date.
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
    out = pd.concat([logged, proposed], ignore_index=True)
    for column in ("accountable", "responsible"):
        if column not in out:
            out[column] = None
    out["accountable"] = out["accountable"].fillna(ACCOUNTABLE)
    out["responsible"] = out["responsible"].fillna(out.kind.map(RESPONSIBLE))
    out["consulted"] = CONSULTED
    out["informed"] = INFORMED
    out["cycle"] = pd.to_datetime(out.cycle).dt.date
    return out.reindex(columns=LOG_COLUMNS).sort_values(["cycle", "decision_id"], kind="stable").reset_index(drop=True)
