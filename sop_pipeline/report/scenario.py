"""Agenda item "Scenario vs base" (only in a scenario's pack, `sop scenario run`): the what-if's
figures beside the base plan's, from the `scenario_compare` mart, per family and in total, and the
load of each resource."""

from __future__ import annotations

from markupsafe import Markup

from sop_pipeline.report.components import Col, ncol, panel, table
from sop_pipeline.report.context import PackContext
from sop_pipeline.report.format import is_missing, num

COLS = ("scenario", "scope", "key", "metric", "unit", "base_value", "scenario_value", "delta", "delta_pct")
LABELS = {
    "demand_units": "Demand (units, 13 wk)",
    "revenue": "Revenue (13 wk)",
    "margin": "Margin (13 wk)",
    "net_margin": "Net margin after expedites and alternates (13 wk)",
    "projected_fill_rate_pct": "Projected fill rate %",
    "stockout_sku_weeks": "Stockout SKU-weeks",
    "cut_units": "Cut units",
    "built_ahead_units": "Units built ahead",
    "inventory_value_end": "Inventory value, week 13",
    "working_capital_end": "Working capital, week 13",
    "cash_tied_up_13w": "Cash tied up (13 wk)",
    "available_hours_13w": "Available hours (13 wk)",
    "capacity_load_pct": "Capacity load % (forecast)",
    "planned_hours_13w": "Planned hours (13 wk)",
    "plan_load_pct": "Plan load %",
}


def shown(ctx: PackContext) -> bool:
    """The section is in the pack only when the serving file holds a scenario's comparison."""
    return ctx.marts.has("scenario_compare", *COLS) and not ctx.marts.read("scenario_compare", COLS).empty


def _value(v, unit: str = "") -> str:
    return num(v, 1 if unit == "%" else 0)


def _delta_pct(v) -> str:
    return "\u2014" if is_missing(v) else f"{float(v):+.1f}%"


def build(ctx: PackContext) -> list:
    return [ctx.render(totals), ctx.render(families), ctx.render(resources)]


def _frame(ctx: PackContext, scope: str):
    df = ctx.marts.read("scenario_compare", COLS)
    df = df[df.scope == scope].copy()
    df["label"] = df.metric.map(lambda m: LABELS.get(m, m))
    for c in ("base_value", "scenario_value", "delta"):
        df[c + "_text"] = [_value(v, u) for v, u in zip(df[c], df.unit)]
    df["delta_pct_text"] = df.delta_pct.map(_delta_pct)
    return df


def _cols(first: list[Col]) -> list[Col]:
    return [
        *first,
        Col("base_value_text", "Base"),
        Col("scenario_value_text", "Scenario"),
        Col("delta_text", "Delta"),
        Col("delta_pct_text", "Delta %"),
    ]


def totals(ctx: PackContext) -> Markup:
    df = _frame(ctx, "total")
    name = str(ctx.marts.read("scenario_compare", COLS).scenario.iloc[0])
    return panel(
        f"Scenario {name} vs the base plan: totals",
        table(df, _cols([Col("label", "Measure")])),
        "scenario-totals",
        note="The base is the plan of record of the base data dir (its serving file); the scenario is the same "
        "cycle on the same extracts with the declared changes. Nothing here changes the plan of record.",
        wide=True,
    )


def families(ctx: PackContext) -> Markup:
    df = _frame(ctx, "family")
    return panel(
        "By family",
        table(df, _cols([Col("key", "Family"), Col("label", "Measure")])),
        "scenario-families",
        wide=True,
    )


def resources(ctx: PackContext) -> Markup:
    df = _frame(ctx, "resource")
    return panel(
        "Capacity by resource",
        table(df, _cols([Col("key", "Resource"), Col("label", "Measure")])),
        "scenario-resources",
        note="Capacity load %: the supply review's required hours (statistical forecast) / available hours. "
        "Plan load %: the plan's run + changeover hours on a sequenced resource / available hours.",
        wide=True,
    )


__all__ = ["build", "shown", "ncol"]
