"""Agenda item 5, "Decision log" (10 min): yes/no items with their owners (RACI), decisions
already taken, the risk board and the plan of record they land in."""

from __future__ import annotations

import pandas as pd

from markupsafe import Markup

from sop_pipeline.report.components import Col, auto_table, badge, ncol, panel, table
from sop_pipeline.report.context import PackContext
from sop_pipeline.report.format import date_text, is_missing, money, num, pct, signed_money, signed_num
from sop_pipeline.report.templating import macros

DECISION_COLS = ("kind", "subject", "value")
DECISION_EXTRA = ("decision_id", "cycle", "approved", "accountable", "responsible", "status", "effect")
KIND_LABELS = {
    "freeze_window": "Freeze window",
    "substitution": "SKU substitution",
    "make_vs_buy": "Make vs buy",
    "expedite": "Expedite",
    "service_target": "Service target",
    "forecast_override": "Forecast override",
}
RISK_COLS = ("rank", "kind", "entity_id", "probability", "expected_impact")
RISK_EXTRA = ("signal", "root_cause", "detail", "supporting", "impact_value", "mitigation", "owner")


def build(ctx: PackContext) -> list:
    """The panels in order; a tuple is a row of panels side by side (a grid)."""
    return [
        ctx.render(decision_log),
        ctx.render(open_exceptions),
        (ctx.render(substitutions), ctx.render(plan_changes)),
        ctx.render(risk_board),
        ctx.render(plan_of_record),
    ]


def decision_log(ctx: PackContext) -> Markup:
    title = "Decisions: yes or no (no \u201cmaybe later\u201d)"
    df = ctx.marts.read("decision_log", DECISION_COLS, optional=DECISION_EXTRA)
    if df.empty:
        return ctx.missing(title, "decision-items", "decision_log", DECISION_COLS, wide=True)
    df = df.assign(
        kind_label=df["kind"].map(lambda k: KIND_LABELS.get(str(k), str(k))),
        state=[_state(r) for _, r in df.iterrows()],
    )
    pending = df[df.state == "proposed"]
    decided = df[df.state != "proposed"]
    if "cycle" in decided:
        decided = decided.sort_values("cycle", ascending=False, kind="stable")
    base = [
        Col("kind_label", "Decision"),
        Col("subject", "Subject"),
        Col("value", "Proposal"),
        Col("accountable", "Accountable"),
        Col("responsible", "Responsible"),
        Col("effect", "Effect"),
    ]
    bodies = macros("decisions.html.j2")
    vote = Col("kind", "Decide", lambda _: bodies.vote())
    decided_cols = [Col("cycle", "Cycle", date_text)] + base[:3] + [Col("state", "Outcome", _outcome)] + base[3:5]
    body = bodies.decision_log(
        len(pending),
        table(pending, base + [vote], cls="decisions") if len(pending) else None,
        table(decided, decided_cols, cls="compact", max_rows=10) if len(decided) else None,
    )
    note = "Accountable: Ops + Commercial leaders (co-own the plan). Responsible: demand planner / master scheduler."
    return panel(title, body, "decision-items", note=note, wide=True)


def _state(row: pd.Series) -> str:
    status = row.get("status")
    if not is_missing(status) and str(status):
        return str(status).lower()
    approved = row.get("approved")
    if is_missing(approved) or str(approved) == "":
        return "proposed"
    return "approved" if str(approved).lower() in ("yes", "true", "1") else "rejected"


def _outcome(state) -> Markup:
    return badge(str(state), {"approved": "good", "rejected": "bad"}.get(str(state), "neutral"))


def risk_board(ctx: PackContext) -> Markup:
    title = "Risk board: top risks"
    df = ctx.marts.read("datapack_risk_board", RISK_COLS, optional=RISK_EXTRA, order_by='"rank"')
    if df.empty:
        return ctx.missing(title, "decision-risk-board", "datapack_risk_board", RISK_COLS, wide=True)
    cols = [
        ncol("rank", "#"),
        Col("root_cause", "Root cause"),
        Col("kind", "Kind"),
        Col("entity_id", "Entity"),
        Col("signal", "Signal"),
        Col("detail", "Evidence"),
        Col("supporting", "Supporting signals"),
        ncol("probability", "Probability", lambda v: pct(v, 0, fraction=True)),
        ncol("impact_value", "Impact", money),
        ncol("expected_impact", "Expected impact", money),
        Col("mitigation", "Mitigation"),
        Col("owner", "Owner"),
    ]
    return panel(
        title,
        table(df, cols, cls="compact"),
        "decision-risk-board",
        note="One line per root cause (the strongest signal; the others are supporting evidence). "
        "Expected impact = probability x revenue exposed.",
        wide=True,
    )


PLAN_SUMS = (
    "demand_units",
    "supply_units",
    "receipts_units",
    "expired_units",
    "revenue",
    "margin",
    "expedite_cost",
    "offload_cost",
    "net_margin",
    "built_ahead_units",
    "moved_out_units",
    "cut_units",
    "skus_at_risk",
)


def plan_of_record(ctx: PackContext) -> Markup:
    title = "Plan of record by family (13 weeks)"
    cols = ("family",)
    df = ctx.marts.read(
        "plan_of_record_family",
        cols,
        optional=PLAN_SUMS
        + ("week_start", "opening_inventory_units", "projected_inventory_units", "safety_stock_units"),
    )
    if df.empty:
        return ctx.missing(title, "decision-plan-of-record", "plan_of_record_family", cols, wide=True)
    if not any(c in df for c in PLAN_SUMS):
        return panel(
            title,
            auto_table(ctx.marts.read("plan_of_record_family"), max_rows=15, max_cols=9),
            "decision-plan-of-record",
            wide=True,
        )
    df = df.sort_values("week_start") if "week_start" in df else df
    sums = df.groupby("family").agg({c: "sum" for c in PLAN_SUMS if c in df})
    firsts = df.groupby("family").agg({c: "first" for c in ("opening_inventory_units",) if c in df})
    ends = df.groupby("family").agg({c: "last" for c in ("projected_inventory_units", "safety_stock_units") if c in df})
    plan = sums.join(firsts).join(ends).reset_index()
    plan = pd.concat([plan, plan.sum(numeric_only=True).to_frame().T.assign(family="All")], ignore_index=True)
    total = {"row_cls": lambda r: "total" if r.family == "All" else ""}
    balance = [
        Col("family", "Family"),
        ncol("opening_inventory_units", "Opening stock"),
        ncol("supply_units", "+ Supply"),
        ncol("receipts_units", "+ Open-order receipts"),
        ncol("demand_units", "\u2212 Demand"),
        ncol("expired_units", "\u2212 Expiring"),
        ncol("projected_inventory_units", "= Inventory at end"),
        ncol("safety_stock_units", "Safety stock at end"),
        ncol("skus_at_risk", "SKU-weeks at risk"),
    ]
    money_cols = [
        Col("family", "Family"),
        ncol("revenue", "Revenue", money),
        ncol("margin", "Margin", money),
        ncol("expedite_cost", "Expedite cost", money),
        ncol("offload_cost", "Alternate-resource cost", money),
        ncol("net_margin", "Net margin", money),
        ncol("built_ahead_units", "Built ahead"),
        ncol("moved_out_units", "Moved later"),
        ncol("cut_units", "Cut"),
    ]
    note = (
        "Everything decided lands in one published plan of record. Units over the 13 weeks close: opening "
        "stock (usable, week 1) + supply + open-order receipts - demand - units expiring unsold = inventory at "
        "the end (negative = backlog). Supply is capacity-feasible; what a full "
        "week cannot make is built ahead in earlier weeks with free hours (within a third of the item's shelf "
        "life, never in frozen weeks), and only then moved later or cut. SKU-weeks at risk = below safety stock or stocked out. Net margin = margin (at standard cost) less the "
        "plan's own extra supply costs: approved expedites and units made on an alternate resource."
    )
    return panel(
        title,
        [
            table(plan, balance, cls="compact", **total),
            Markup("<h4>Money and capacity moves</h4>"),
            table(plan, money_cols, cls="compact", **total),
        ],
        "decision-plan-of-record",
        note=note,
        wide=True,
    )


def substitutions(ctx: PackContext) -> Markup:
    title = "Promo substitutions awaiting Sales' approval"
    df = ctx.marts.read("substitution_plan")
    if df.empty and ctx.marts.has("substitution_plan"):
        return ctx.nothing(title, "decision-substitutions", "Every promotion can be supplied in time: no substitutes.")
    if df.empty:
        return ctx.missing(title, "decision-substitutions", "substitution_plan")
    return panel(
        title,
        auto_table(df, max_rows=8),
        "decision-substitutions",
        note="Promo units the plan cannot supply in time, with a same-family substitute in stock.",
    )


def plan_changes(ctx: PackContext) -> Markup:
    title = "What changed since the last cycle's plan"
    df = ctx.marts.read("plan_changes")
    if df.empty and ctx.marts.has("plan_changes"):
        return ctx.nothing(
            title,
            "decision-plan-changes",
            "No change to report: no earlier cycle's plan to compare with yet, or nothing moved.",
        )
    if df.empty:
        return ctx.missing(title, "decision-plan-changes", "plan_changes")
    cols = [
        Col("family", "Family"),
        ncol("units_change", "Units change", signed_num),
        ncol("revenue_change", "Revenue change", signed_money),
        *[
            ncol(c, label, num)
            for c, label in (("skus_added", "SKUs new"), ("skus_dropped", "SKUs dropped"))
            if c in df
        ],
        Col("decision_ids", "Decisions"),
        Col("signals", "Signals"),
    ]
    body = table(df, cols, cls="compact") if "family" in df and "units_change" in df else auto_table(df)
    return panel(title, body, "decision-plan-changes")


EXCEPTION_COLS = ("exception_key", "owner", "status", "first_raised_cycle", "age_weeks", "kind", "subject", "message")
EXCEPTION_EXTRA = ("severity", "area", "status_reason", "note", "updated_by")
EXCEPTION_KIND_LABELS = {
    "kpi_alert": "KPI alert",
    "risk": "Risk",
    "demand_flag": "Demand flag",
    "proposal": "Proposal",
    "infeasible_plan": "Infeasible plan",
    "demand_plan_control": "Demand vs plan",
    "late_purchase": "Late purchase",
}


def open_exceptions(ctx: PackContext) -> Markup:
    """Open (and acknowledged) exceptions by owner, oldest first (mart `exceptions`)."""
    title = "Open exceptions by owner, oldest first"
    df = ctx.marts.read("exceptions", EXCEPTION_COLS, optional=EXCEPTION_EXTRA)
    if df.empty and ctx.marts.has("exceptions"):
        return ctx.nothing(title, "decision-exceptions", "Nothing needs a person this cycle.")
    if df.empty:
        return ctx.missing(title, "decision-exceptions", "exceptions", EXCEPTION_COLS, wide=True)
    live = df[df.status != "closed"].copy()
    closed = int((df.status == "closed").sum())
    if live.empty:
        return ctx.nothing(title, "decision-exceptions", f"No open exception ({closed} closed this cycle).")
    severity = live["severity"].map({"high": 0, "medium": 1, "low": 2}) if "severity" in live else 0
    live = live.assign(
        _sev=severity,
        kind_label=live["kind"].map(lambda k: EXCEPTION_KIND_LABELS.get(str(k), str(k))),
        state=live["status"].astype(str),
    ).sort_values(["first_raised_cycle", "_sev", "exception_key"], kind="stable")
    cols = [
        Col("first_raised_cycle", "First raised", date_text),
        ncol("age_weeks", "Age (weeks)"),
        Col("state", "Status", lambda s: badge(str(s), "warn" if str(s) == "open" else "neutral")),
        Col("kind_label", "Kind"),
        Col("subject", "Subject"),
        Col("message", "What needs a person"),
        Col("severity", "Severity"),
        Col("exception_key", "Key"),
    ]
    # owners with the oldest exception first, then by name
    order = live.groupby("owner").first_raised_cycle.min().reset_index().sort_values(["first_raised_cycle", "owner"])
    groups = [
        (owner, len(live[live.owner == owner]), table(live[live.owner == owner], cols, cls="compact", max_rows=12))
        for owner in order.owner
    ]
    note = (
        f"{len(live)} open or acknowledged, {closed} closed this cycle (resolved, or closed by a person). "
        "Change a status, the owner or add a note in the exception_updates extract (exception_key, status, "
        "owner, note, updated_by, updated_at): it carries to the next cycle."
    )
    body = macros("decisions.html.j2").exceptions_by_owner(groups)
    return panel(title, body, "decision-exceptions", note=note, wide=True)
