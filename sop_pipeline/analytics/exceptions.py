"""The exception workflow: everything in this cycle's data pack that needs a person, with an owner and a
status that carries across cycles. Pure pandas; no Dagster.

**Sources** (each item becomes one candidate exception): KPI alerts (`kpi_alerts`), the risk board's items
(`datapack_risk_board`), the demand review's callouts (`demand_flags`), the pipeline's proposals waiting
for a decision (decision log rows with status proposed), infeasible plan rows (a SKU whose plan cuts
units or runs out of stock in the horizon, one exception per SKU), demand-vs-plan control differences
(`demand_plan_controls`) and, when the MRP output is there, purchase requirements flagged late.

**Key.** `exception_key(kind, natural_key)` is a hash of the kind and the item's natural key (the alert
id, the risk's root cause, the flag's SKU and week, the proposal's kind and subject, the SKU), never of
the cycle: the same condition in the next cycle has the same key.

**Owner.** From RACI: the optional `raci` extract (area, kind -> owner; kind `*` = the whole area) wins;
else the source's own owner (the risk board's owner, the decision log's Responsible); else the default
RACI of the S&OP process (`DEFAULT_RACI`, the seed article's roles). An `exception_updates` row may
override the owner.

**Status across cycles** (`carry_forward`). The previous cycle's exceptions come from history (the
per-cycle copy the IO manager keeps, `history.exceptions`); status changes come from the optional
`exception_updates` extract (exception_key, status, owner, note, updated_by, updated_at). For each key:

- present this cycle: status = the latest update made on or after the day it was first raised, else the
  previous cycle's status (acknowledged stays acknowledged; a person's close stays closed), else open;
  first_raised_cycle carries over; an exception the previous cycle had closed as resolved that comes
  back is raised anew (this cycle, status open, older updates no longer apply);
- in the previous cycle, not closed, and gone now: closed, reason `resolved` (auto-close), listed in
  the cycle it closed in only;
- an update made before the first cycle this pipeline saw the exception (e.g. from the tool used
  before) dates its first raising back to the cycle that update answered (the Sunday on or before it).

Age = whole weeks from first_raised_cycle to this cycle. An update whose key is neither an exception
of this cycle nor of the previous one is rejected (`UPDATE_ISSUE_COLUMNS`: extract, source row,
column, value, reason); a bad status never gets here (the GX suite quarantines it at ingest).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

STATUSES = ("open", "acknowledged", "closed")
KINDS = (
    "kpi_alert",
    "risk",
    "demand_flag",
    "proposal",
    "infeasible_plan",
    "demand_plan_control",
    "late_purchase",
)
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
RESOLVED = "resolved"

# Default RACI (seed article: Accountable Ops + Commercial leaders; Responsible demand planner
# (forecast), master scheduler (supply/sequence); Consulted Quality, Procurement, Finance).
# (area, kind) -> owner; kind "*" covers the whole area. The `raci` extract overrides any of them.
DEFAULT_RACI = {
    ("kpi", "*"): "Ops leader + Commercial leader",
    ("demand", "*"): "Demand planner",
    ("inventory", "*"): "Demand planner",
    ("supply", "*"): "Master scheduler",
    ("plan", "*"): "Master scheduler",
    ("risk", "*"): "Procurement",
    ("procurement", "*"): "Procurement",
    ("finance", "*"): "Finance",
}
FALLBACK_OWNER = "Ops leader + Commercial leader"

CANDIDATE_COLUMNS = ["exception_key", "kind", "area", "subject", "natural_key", "message", "severity", "source_owner"]
COLUMNS = [
    "exception_key",
    "cycle_id",
    "kind",
    "area",
    "subject",
    "natural_key",
    "message",
    "severity",
    "owner",
    "owner_source",
    "status",
    "status_reason",
    "first_raised_cycle",
    "age_weeks",
    "last_seen_cycle",
    "closed_cycle",
    "updated_by",
    "updated_at",
    "note",
]
UPDATE_ISSUE_COLUMNS = ["extract", "source_row", "column_name", "value", "reason"]


def exception_key(kind: str, natural_key: str) -> str:
    """Stable key of an exception: the same kind and natural key give the same key in every cycle."""
    return "EX-" + hashlib.sha1(f"{kind}|{natural_key}".encode()).hexdigest()[:12]


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _frame(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=[c for c in CANDIDATE_COLUMNS if c != "exception_key"])
    out.insert(0, "exception_key", [exception_key(k, n) for k, n in zip(out.kind, out.natural_key)])
    return out


# --- sources -> candidate exceptions (one row per item that needs a person) ----------------------


def from_kpi_alerts(alerts: pd.DataFrame | None) -> pd.DataFrame:
    """One per KPI alert (`kpi_alerts.alert_id` = alert:subject)."""
    rows = []
    for r in (alerts if alerts is not None else pd.DataFrame()).itertuples(index=False):
        area = "demand" if r.alert == "service_low_inventory_high" else "kpi"
        rows.append(
            dict(
                kind="kpi_alert",
                area=area,
                subject=_text(r.subject),
                natural_key=_text(r.alert_id),
                message=_text(r.message),
                severity=_text(r.severity) or "medium",
                source_owner="",
            )
        )
    return _frame(rows)


def from_risk_board(board: pd.DataFrame | None) -> pd.DataFrame:
    """One per risk-board item (one per root cause); the board's owner is the source owner."""
    rows = []
    for r in (board if board is not None else pd.DataFrame()).itertuples(index=False):
        detail = _text(getattr(r, "detail", ""))
        mitigation = _text(getattr(r, "mitigation", ""))
        message = f"{_text(r.signal)} on {r.kind} {r.entity_id}" + (f": {detail}" if detail else "")
        rows.append(
            dict(
                kind="risk",
                area="risk",
                subject=_text(r.entity_id),
                natural_key=_text(r.root_cause) or f"{r.kind} {r.entity_id}",
                message=message + (f" Mitigation: {mitigation}" if mitigation else ""),
                severity="high" if int(r.rank) <= 2 else "medium",
                source_owner=_text(getattr(r, "owner", "")),
            )
        )
    return _frame(rows)


STANDING_FLAGS = ("sales_optimism",)


def from_demand_flags(flags: pd.DataFrame | None) -> pd.DataFrame:
    """One per demand-review callout (kind, SKU or family, week)."""
    rows = []
    for r in (flags if flags is not None else pd.DataFrame()).itertuples(index=False):
        subject = _text(getattr(r, "sku", "")) or _text(getattr(r, "family", ""))
        week = getattr(r, "week_start", None)
        week = "" if week is None or pd.isna(week) else pd.Timestamp(week).date().isoformat()
        # a history outlier or a hockey stick is an event of its week; optimism is a standing condition
        # (its week is the latest snapshot's, which moves every cycle), so its key has no week
        keyed_week = "" if r.kind in STANDING_FLAGS else f":{week}"
        rows.append(
            dict(
                kind="demand_flag",
                area="demand",
                subject=subject,
                natural_key=f"{r.kind}:{_text(getattr(r, 'family', ''))}:{subject}{keyed_week}",
                message=f"{r.kind} {subject}" + (f" week {week}" if week else "") + f": {_text(r.reason)}",
                severity="medium",
                source_owner="",
            )
        )
    return _frame(rows)


PROPOSAL_AREA = {
    "substitution": "demand",
    "service_target": "inventory",
    "forecast_override": "demand",
    "freeze_window": "supply",
    "make_vs_buy": "supply",
    "expedite": "supply",
}


def from_proposals(decision_log: pd.DataFrame | None) -> pd.DataFrame:
    """One per decision-log row waiting for a decision (status proposed); Responsible is the source owner."""
    log = decision_log if decision_log is not None else pd.DataFrame(columns=["status"])
    rows = []
    for r in log[log["status"] == "proposed"].itertuples(index=False):
        rows.append(
            dict(
                kind="proposal",
                area=PROPOSAL_AREA.get(r.kind, "plan"),
                subject=_text(r.subject),
                natural_key=f"{r.kind}:{_text(r.subject)}",
                message=f"proposed {r.kind} {_text(r.subject)} = {_text(r.value)}: {_text(r.effect)}".rstrip(": "),
                severity="medium",
                source_owner=_text(r.responsible),
            )
        )
    return _frame(rows)


def from_infeasible_plan(plan: pd.DataFrame | None) -> pd.DataFrame:
    """One per SKU whose plan of record cuts units or runs out of stock in the horizon."""
    if plan is None or plan.empty:
        return _frame([])
    cut = plan["cut_units"] if "cut_units" in plan else pd.Series(0.0, index=plan.index)
    bad = plan.assign(cut_units=cut.fillna(0.0))
    bad = bad[(bad.cut_units > 0) | (bad.service_risk == "stockout")]
    rows = []
    for sku, g in bad.sort_values(["sku", "horizon_week"]).groupby("sku", sort=True):
        stockout = g[g.service_risk == "stockout"].horizon_week.tolist()
        parts = []
        if g.cut_units.sum() > 0:
            resources = sorted({r for r in g.loc[g.cut_units > 0, "resource_id"].fillna("") if r})
            parts.append(
                f"{g.cut_units.sum():,.0f} units cut ({', '.join(resources) or 'constraint'} full through the horizon)"
            )
        if stockout:
            parts.append(f"stockout in {len(stockout)} week(s) from week {min(stockout)}")
        rows.append(
            dict(
                kind="infeasible_plan",
                area="supply",
                subject=str(sku),
                natural_key=str(sku),
                message=f"{sku}: " + "; ".join(parts),
                severity="high" if stockout else "medium",
                source_owner="",
            )
        )
    return _frame(rows)


def from_demand_plan_controls(controls: pd.DataFrame | None, tolerance: float = 1e-6) -> pd.DataFrame:
    """One per family-week where the plan's demand differs from the consumption's planned demand."""
    rows = []
    frame = controls if controls is not None else pd.DataFrame(columns=["difference_units", "planned_demand_units"])
    scale = tolerance * np.maximum(1.0, frame.planned_demand_units.abs())
    for r in frame[frame.difference_units.abs() > scale].itertuples(index=False):
        week = pd.Timestamp(r.week_start).date().isoformat()
        rows.append(
            dict(
                kind="demand_plan_control",
                area="demand",
                subject=str(r.family),
                natural_key=f"{r.family}:{week}",
                message=f"{r.family} week {week}: plan demand differs from planned demand by {r.difference_units:,.1f} units",
                severity="high",
                source_owner="",
            )
        )
    return _frame(rows)


LATE_FLAGS = ("is_late", "late")


def from_late_purchases(requirements: pd.DataFrame | None) -> pd.DataFrame:
    """One per component x supplier with a purchase requirement flagged late (the MRP's
    `purchase_requirements`, when it has a late flag: `is_late` or `late`); empty otherwise."""
    if requirements is None or requirements.empty:
        return _frame([])
    flag = next((c for c in LATE_FLAGS if c in requirements.columns), None)
    if flag is None:
        return _frame([])
    sku_col = next((c for c in ("component_sku", "sku") if c in requirements.columns), None)
    late = requirements[requirements[flag].fillna(False).astype(bool)]
    rows = []
    supplier = late["supplier_id"] if "supplier_id" in late else pd.Series("", index=late.index)
    for (sku, sup), g in late.assign(_sup=supplier.fillna("")).groupby([sku_col, "_sup"], sort=True):
        rows.append(
            dict(
                kind="late_purchase",
                area="procurement",
                subject=str(sku),
                natural_key=f"{sku}:{sup}",
                message=f"{sku}"
                + (f" from {sup}" if sup else "")
                + f": {len(g)} purchase requirement(s) cannot arrive in time"
                + (
                    f" (up to {g.days_late.max():,.0f} days late)"
                    if "days_late" in g and g.days_late.notna().any()
                    else ""
                ),
                severity="high",
                source_owner="",
            )
        )
    return _frame(rows)


def candidates(
    kpi_alerts=None,
    risk_board=None,
    demand_flags=None,
    decision_log=None,
    plan=None,
    demand_plan_controls=None,
    purchase_requirements=None,
) -> pd.DataFrame:
    """Every item that needs a person this cycle, one row each (CANDIDATE_COLUMNS), sorted by key."""
    parts = [
        from_kpi_alerts(kpi_alerts),
        from_risk_board(risk_board),
        from_demand_flags(demand_flags),
        from_proposals(decision_log),
        from_infeasible_plan(plan),
        from_demand_plan_controls(demand_plan_controls),
        from_late_purchases(purchase_requirements),
    ]
    out = pd.concat([p for p in parts if not p.empty] or [parts[0]], ignore_index=True)
    dup = out[out.exception_key.duplicated(keep=False)]
    if not dup.empty:  # two items with the same natural key: keep one row, the first message
        out = out.drop_duplicates("exception_key", keep="first")
    return out.sort_values("exception_key").reset_index(drop=True)


# --- owners -------------------------------------------------------------------------------------


def assign_owner(cands: pd.DataFrame, raci: pd.DataFrame | None = None) -> pd.Series:
    """Owner per candidate: raci extract (area, kind), then (area, *); else the source's owner; else
    DEFAULT_RACI (area, kind), (area, *); else the accountable pair."""
    table = {}
    if raci is not None and not raci.empty:
        for r in raci.itertuples(index=False):
            kind = _text(r.kind) or "*"
            table[(str(r.area), kind)] = str(r.owner)

    def owner(row) -> str:
        for key in ((row.area, row.kind), (row.area, "*")):
            if key in table:
                return table[key]
        if row.source_owner:
            return row.source_owner
        return DEFAULT_RACI.get((row.area, row.kind)) or DEFAULT_RACI.get((row.area, "*")) or FALLBACK_OWNER

    return pd.Series([owner(r) for r in cands.itertuples(index=False)], index=cands.index, dtype=object)


# --- state across cycles ------------------------------------------------------------------------


def answered_cycle(updated_at) -> pd.Timestamp:
    """The cycle an update answered: the Sunday on or before its day (a cycle's as-of is its Sunday)."""
    day = pd.Timestamp(updated_at).normalize()
    return day - pd.Timedelta(days=(day.weekday() + 1) % 7)


def _weeks(later, earlier) -> int:
    return int((pd.Timestamp(later) - pd.Timestamp(earlier)).days // 7)


def carry_forward(
    cands: pd.DataFrame,
    owners: pd.Series,
    prior: pd.DataFrame | None,
    updates: pd.DataFrame | None,
    cycle,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """This cycle's exceptions (COLUMNS) and the rejected updates (UPDATE_ISSUE_COLUMNS).

    cands: `candidates(...)`; owners: `assign_owner(cands)`; prior: the previous cycle's exceptions
    (COLUMNS, from history; None or empty in a first cycle); updates: the staged exception_updates
    (exception_key, status, owner, note, updated_by, updated_at, source_row), already cut at the as-of;
    cycle: this cycle's as-of date. See the module doc for the rules."""
    cycle = pd.Timestamp(cycle).normalize()
    prior = prior if prior is not None and not prior.empty else pd.DataFrame(columns=COLUMNS)
    prior = prior.set_index("exception_key", drop=False)
    upd = updates if updates is not None else pd.DataFrame()
    if upd.empty:
        upd = pd.DataFrame(
            columns=["exception_key", "status", "owner", "note", "updated_by", "updated_at", "source_row"]
        )
    upd = upd.assign(updated_at=pd.to_datetime(upd.updated_at)).sort_values(["updated_at", "source_row"], kind="stable")

    current = set(cands.exception_key)
    known = current | set(prior.exception_key)
    unknown = upd[~upd.exception_key.isin(known)]
    issues = pd.DataFrame(
        {
            "extract": "exception_updates",
            "source_row": unknown.source_row.astype("int64"),
            "column_name": "exception_key",
            "value": unknown.exception_key.astype(str),
            "reason": [
                f"exception_updates row {int(r)}, column exception_key: {k!r} is not an exception of cycle "
                f"{cycle.date()} or of the previous cycle; update ignored"
                for r, k in zip(unknown.source_row, unknown.exception_key)
            ],
        },
        columns=UPDATE_ISSUE_COLUMNS,
    ).astype({"extract": str, "source_row": "int64", "column_name": str, "value": str, "reason": str})
    by_key = {k: g for k, g in upd[upd.exception_key.isin(known)].groupby("exception_key", sort=False)}

    rows = []
    for c, owner in zip(cands.itertuples(index=False), owners):
        p = prior.loc[c.exception_key] if c.exception_key in prior.index else None
        reraised = p is not None and p.status == "closed" and p.status_reason == RESOLVED
        if p is None or reraised:
            first, status, reason, prior_owner = cycle, "open", "", None
        else:
            first = pd.Timestamp(p.first_raised_cycle)
            status, reason = str(p.status), _text(p.status_reason)
            prior_owner = p.owner if p.owner_source == "update" else None
        row = dict(c._asdict(), cycle_id=cycle, owner=owner, owner_source="raci", last_seen_cycle=cycle)
        row.pop("source_owner")
        row.update(updated_by="", updated_at=pd.NaT, note="")
        if prior_owner:
            row.update(owner=prior_owner, owner_source="update")
        if p is not None and not reraised:
            row.update(updated_by=_text(p.updated_by), updated_at=p.updated_at, note=_text(p.note))
        g = by_key.get(c.exception_key)
        if g is not None:
            if p is None:  # first seen here, answered before: raised by the cycle the first update answered
                first = min(first, answered_cycle(g.updated_at.iloc[0]))
            g = g[g.updated_at.dt.normalize() >= first]
        if g is not None and not g.empty:
            last = g.iloc[-1]
            status = str(last.status)
            reason = "" if status == "open" else f"{status} by {_text(last.updated_by) or 'unknown'}"
            row.update(updated_by=_text(last.updated_by), updated_at=last.updated_at, note=_text(last.note))
            owned = g[g.owner.notna() & (g.owner.astype(str) != "")]
            if not owned.empty:
                row.update(owner=str(owned.owner.iloc[-1]), owner_source="update")
        row.update(
            status=status,
            status_reason=reason,
            first_raised_cycle=first,
            age_weeks=_weeks(cycle, first),
            closed_cycle=pd.NaT,
        )
        if status == "closed":  # closed by a person: the cycle it was first seen closed
            was_closed = p is not None and not reraised and p.status == "closed" and pd.notna(p.closed_cycle)
            row["closed_cycle"] = pd.Timestamp(p.closed_cycle) if was_closed else cycle
        rows.append(row)

    # auto-close: open or acknowledged last cycle, condition gone now
    for p in prior[~prior.exception_key.isin(current) & (prior.status != "closed")].itertuples(index=False):
        row = {c: getattr(p, c) for c in COLUMNS}
        row.update(
            cycle_id=cycle,
            status="closed",
            status_reason=RESOLVED,
            closed_cycle=cycle,
            age_weeks=_weeks(cycle, p.first_raised_cycle),
            message=f"{p.message} (condition gone in cycle {cycle.date()})",
        )
        rows.append(row)

    out = pd.DataFrame(rows, columns=COLUMNS)
    # cycles as DATE (never null); closed_cycle and updated_at are nullable: timestamps, typed even when
    # every row is null (a column of None has no type in DuckDB)
    for col in ("cycle_id", "first_raised_cycle", "last_seen_cycle"):
        out[col] = pd.to_datetime(out[col]).dt.date
    for col in ("closed_cycle", "updated_at"):
        out[col] = pd.to_datetime(out[col]).astype("datetime64[ns]")
    out["age_weeks"] = out["age_weeks"].astype("int64")
    for col in ("exception_key", "kind", "area", "subject", "natural_key", "message", "severity", "owner"):
        out[col] = out[col].astype(str)
    for col in ("owner_source", "status", "status_reason", "updated_by", "note"):
        out[col] = out[col].fillna("").astype(str)
    out = out.sort_values("exception_key").reset_index(drop=True)
    return out, issues.reset_index(drop=True)


def open_by_owner(exceptions: pd.DataFrame) -> pd.DataFrame:
    """Open and acknowledged exceptions grouped by owner, oldest first (the meeting pack's list)."""
    live = exceptions[exceptions.status != "closed"].copy()
    live["_sev"] = live.severity.map(SEVERITY_ORDER).fillna(9)
    live = live.sort_values(["owner", "first_raised_cycle", "_sev", "exception_key"])
    return live.drop(columns="_sev").reset_index(drop=True)


# --- blocking checks ----------------------------------------------------------------------------


def exception_breaks(exceptions: pd.DataFrame, cands: pd.DataFrame) -> list[str]:
    """What breaks the exceptions' rules (empty = fine): keys unique; every source item present exactly
    once and not closed as resolved; age >= 0 and first raised <= last seen; a known status; a closed
    exception has a reason."""
    out = []
    dup = exceptions[exceptions.exception_key.duplicated(keep=False)].exception_key.unique()
    if len(dup):
        out.append(f"{len(dup)} exception key(s) appear more than once, e.g. {dup[0]}")
    counts = exceptions.exception_key.value_counts()
    missing = [k for k in cands.exception_key if counts.get(k, 0) != 1]
    if missing:
        first = cands.set_index("exception_key").loc[missing[0]]
        out.append(
            f"{len(missing)} source item(s) not listed exactly once, e.g. {first.kind} {first.natural_key} ({missing[0]})"
        )
    live = exceptions[exceptions.exception_key.isin(set(cands.exception_key))]
    wrong = live[live.status_reason == RESOLVED]
    if not wrong.empty:
        out.append(
            f"{len(wrong)} exception(s) closed as resolved while their condition is present, e.g. {wrong.exception_key.iloc[0]}"
        )
    gone = exceptions[~exceptions.exception_key.isin(set(cands.exception_key)) & (exceptions.status != "closed")]
    if not gone.empty:
        out.append(f"{len(gone)} exception(s) open whose condition is gone, e.g. {gone.exception_key.iloc[0]}")
    neg = exceptions[exceptions.age_weeks < 0]
    if not neg.empty:
        out.append(f"{len(neg)} exception(s) with a negative age, e.g. {neg.exception_key.iloc[0]}")
    bad = exceptions[~exceptions.status.isin(STATUSES)]
    if not bad.empty:
        out.append(f"{len(bad)} exception(s) with an unknown status, e.g. {bad.status.iloc[0]!r}")
    closed = exceptions[(exceptions.status == "closed") & (exceptions.status_reason.fillna("") == "")]
    if not closed.empty:
        out.append(f"{len(closed)} closed exception(s) without a reason, e.g. {closed.exception_key.iloc[0]}")
    no_owner = exceptions[exceptions.owner.fillna("") == ""]
    if not no_owner.empty:
        out.append(f"{len(no_owner)} exception(s) without an owner, e.g. {no_owner.exception_key.iloc[0]}")
    return out
