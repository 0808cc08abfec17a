"""Agenda item 4, "Reconciliation" (10 min): the price-volume-mix bridge of last month, the plan of
record vs finance's revenue plan over the horizon (with the control totals that tie the plan to the
cash projection), margin by family and the cash impact (working capital)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from markupsafe import Markup

from sop_pipeline.report.components import Col, badge, ncol, panel, table, tile, tiles
from sop_pipeline.report.context import ACCENT, BAD, GOOD, NEUTRAL, PackContext
from sop_pipeline.report.format import date_text, is_missing, money, num, pct, signed_money, truthy
from sop_pipeline.report.templating import macros

PVM_COLS = (
    "comparison",
    "family",
    "level",
    "revenue_base",
    "price_effect",
    "volume_effect",
    "mix_effect",
    "revenue_actual",
)
COMPARISONS = {
    "vs_plan": ("Plan", "Revenue bridge: plan \u2192 actual"),
    "vs_prior_month": ("Prior month", "Revenue bridge: prior month \u2192 actual"),
}
PLAN_VS_FINANCE_COLS = (
    "period",
    "period_start",
    "period_end",
    "days_covered",
    "days_in_period",
    "finance_plan_covered",
    "family",
    "level",
    "revenue_finance_plan",
    "price_effect",
    "volume_effect",
    "mix_effect",
    "revenue_plan_of_record",
)
CONTROL_COLS = ("measure", "downstream", "plan_of_record_value", "downstream_value", "reconciles")
MARGIN_COLS = ("period", "family", "level", "revenue", "margin", "margin_pct")
CASH_COLS = (
    "point",
    "ar_value",
    "ap_value",
    "inventory_value",
    "dso_days",
    "dpo_days",
    "dio_days",
    "ccc_days",
    "cash_tied_up",
)
# (column, label, lower is better)
CASH_DAYS = [
    ("dso_days", "DSO (days sales outstanding)", True),
    ("dpo_days", "DPO (days payables outstanding)", False),
    ("dio_days", "DIO (days inventory outstanding)", True),
    ("ccc_days", "Cash conversion cycle", True),
]


def build(ctx: PackContext) -> list:
    """The panels in order; a tuple is a row of panels side by side (a grid)."""
    return [
        ctx.render(pvm),
        ctx.render(revenue_bridge),
        ctx.render(plan_vs_finance),
        (ctx.render(margin), ctx.render(cash)),
    ]


def _bodies():
    return macros("reconciliation.html.j2")


# ---- price-volume-mix ----------------------------------------------------------------------------


def pvm(ctx: PackContext) -> Markup:
    title = "Price-volume-mix bridge (last complete month)"
    df = ctx.marts.read("datapack_finance_pvm", PVM_COLS, optional=("month_start",))
    if df.empty:
        return ctx.missing(title, "reconciliation-pvm", "datapack_finance_pvm", PVM_COLS, wide=True)
    charts = []
    for comparison, (base_label, chart_title) in COMPARISONS.items():
        total = df[(df.comparison == comparison) & (df.level == "total")]
        if len(total):
            charts.append(
                ctx.chart(
                    f"pvm-{comparison.replace('_', '-')}",
                    _waterfall(total.iloc[0], base_label, chart_title),
                    height=340,
                )
            )
    if not charts:
        return ctx.missing(
            title, "reconciliation-pvm", "datapack_finance_pvm", reason="mart datapack_finance_pvm has no total row"
        )
    families = df[(df.comparison == "vs_plan") & (df.level != "total")].sort_values("family")
    cols = [
        Col("family", "Family"),
        ncol("revenue_base", "Plan", money),
        ncol("price_effect", "Price", signed_money),
        ncol("volume_effect", "Volume", signed_money),
        ncol("mix_effect", "Mix", signed_money),
        ncol("revenue_actual", "Actual", money),
    ]
    month = df["month_start"].dropna().iloc[0] if "month_start" in df and df["month_start"].notna().any() else None
    note = (
        f"{pd.Timestamp(month):%B %Y}. " if month is not None else ""
    ) + "Price + volume + mix add up exactly to actual - base. Against plan the family plays the SKU's role."
    body = _bodies().pvm(charts, table(families, cols, cls="compact"))
    return panel(title, body, "reconciliation-pvm", note=note, wide=True)


def _waterfall(row: pd.Series, base_label: str, title: str, end_label: str = "Actual") -> go.Figure:
    """base -> price -> volume -> mix -> end; `row` has revenue_base, the three effects, revenue_actual."""
    steps = [
        (base_label, row.revenue_base, "absolute"),
        ("Price", row.price_effect, "relative"),
        ("Volume", row.volume_effect, "relative"),
        ("Mix", row.mix_effect, "relative"),
        (end_label, row.revenue_actual, "total"),
    ]
    fig = go.Figure(
        go.Waterfall(
            x=[s[0] for s in steps],
            y=[s[1] for s in steps],
            measure=[s[2] for s in steps],
            text=[money(s[1]) if s[2] != "relative" else signed_money(s[1]) for s in steps],
            textposition="outside",
            increasing=dict(marker=dict(color=GOOD)),
            decreasing=dict(marker=dict(color=BAD)),
            totals=dict(marker=dict(color=ACCENT)),
            connector=dict(line=dict(color=NEUTRAL, width=1)),
            hovertemplate="%{x}: %{y:,.0f}<extra></extra>",
        )
    )
    low = min(row.revenue_base, row.revenue_actual)
    high = max(row.revenue_base, row.revenue_actual)
    swing = sum(abs(v) for v in (row.price_effect, row.volume_effect, row.mix_effect))
    fig.update_layout(
        title=dict(text=title, font_size=13),
        showlegend=False,
        yaxis=dict(range=[max(0, low - 1.3 * swing), high + 1.3 * swing], title="revenue"),
    )
    return fig


# ---- forecast -> plan of record -> finance plan ---------------------------------------------------

BRIDGE_COLS = ("step_order", "step", "kind", "amount", "description")
BRIDGE_LABELS = {
    "forecast": "Forecast",
    "volume": "Volume",
    "price_promotion_weeks": "Price: promo weeks",
    "price_other_weeks": "Price: other weeks",
    "plan_of_record": "Plan of record",
    "finance_price": "Finance: price",
    "finance_volume": "Finance: volume",
    "finance_mix": "Finance: mix",
    "finance_plan": "Finance plan",
}


def revenue_bridge(ctx: PackContext) -> Markup:
    title = "One revenue story: forecast \u2192 plan of record \u2192 finance plan (13 weeks)"
    panel_id = "reconciliation-revenue-bridge"
    df = ctx.marts.read("plan_revenue_bridge", BRIDGE_COLS, order_by="step_order")
    if df.empty:
        return ctx.missing(title, panel_id, "plan_revenue_bridge", BRIDGE_COLS, wide=True)
    df = df.assign(label=df["step"].map(lambda v: BRIDGE_LABELS.get(str(v), str(v))))
    first_total = df.index[df["kind"] == "total"][0]
    measure = [
        "absolute" if i == first_total else ("total" if k == "total" else "relative")
        for i, k in zip(df.index, df["kind"])
    ]
    fig = go.Figure(
        go.Waterfall(
            x=df["label"],
            y=df["amount"],
            measure=measure,
            text=[money(v) if k == "total" else signed_money(v) for v, k in zip(df["amount"], df["kind"])],
            textposition="outside",
            increasing=dict(marker=dict(color=GOOD)),
            decreasing=dict(marker=dict(color=BAD)),
            totals=dict(marker=dict(color=ACCENT)),
            connector=dict(line=dict(color=NEUTRAL, width=1)),
            hovertemplate="%{x}: %{y:,.0f}<extra></extra>",
        )
    )
    totals = df.loc[df["kind"] == "total", "amount"]
    low, high = float(totals.min()), float(totals.max())
    pad = max(high - low, 0.05 * high)
    fig.update_layout(showlegend=False, yaxis=dict(range=[max(0.0, low - pad), high + pad], title="revenue"))
    cols = [Col("label", "Step"), ncol("amount_text", "Amount", str), Col("description", "Why")]
    rows = df.assign(
        amount_text=[money(v) if k == "total" else signed_money(v) for v, k in zip(df["amount"], df["kind"])]
    )
    body = [
        ctx.chart("revenue-bridge", fig, height=340),
        table(rows, cols, cls="compact", row_cls=lambda r: "total" if r.kind == "total" else ""),
    ]
    note = (
        "Forecast and plan of record share the selling price (promotions discounted; list price only where "
        "the forecast has no units), finance has its own plan; each step explains the next figure and they "
        "add up exactly."
    )
    return panel(title, body, panel_id, note=note, wide=True)


# ---- plan of record vs finance plan ------------------------------------------------------------


def plan_vs_finance(ctx: PackContext) -> Markup:
    title = "Plan of record vs finance plan"
    panel_id = "reconciliation-plan-vs-finance"
    df = ctx.marts.read(
        "plan_reconciliation", PLAN_VS_FINANCE_COLS, optional=("margin_plan_of_record", "net_margin_plan_of_record")
    )
    horizon = df[df.period == "horizon"] if len(df) else df
    total = horizon[horizon.level == "total"] if len(horizon) else horizon
    if total.empty:
        return ctx.missing(
            title,
            panel_id,
            "plan_reconciliation",
            PLAN_VS_FINANCE_COLS,
            wide=True,
            reason=None if df.empty else "mart plan_reconciliation has no horizon total row",
        )
    row = total.iloc[0]
    bridge = row.rename({"revenue_finance_plan": "revenue_base", "revenue_plan_of_record": "revenue_actual"})
    chart = ctx.chart(
        "plan-vs-finance",
        _waterfall(
            bridge,
            "Finance plan",
            "Revenue over the horizon: finance plan \u2192 plan of record",
            end_label="Plan of record",
        ),
        height=340,
    )
    families = horizon.assign(_total=horizon.level.eq("total")).sort_values(["_total", "family"])
    cols = [
        Col("family", "Family"),
        ncol("revenue_finance_plan", "Finance plan", money),
        ncol("price_effect", "Price", signed_money),
        ncol("volume_effect", "Volume", signed_money),
        ncol("mix_effect", "Mix", signed_money),
        ncol("revenue_plan_of_record", "Plan of record", money),
        ncol("margin_plan_of_record", "Margin", money),
        ncol("net_margin_plan_of_record", "Net margin", money),
    ]
    body = _bodies().plan_vs_finance(
        chart,
        table(families, cols, cls="compact", row_cls=lambda r: "total" if r.level == "total" else ""),
        _controls(ctx),
    )
    return panel(title, body, panel_id, note=_horizon_note(df, row), wide=True)


def _horizon_note(df: pd.DataFrame, row: pd.Series) -> str:
    """Which days are compared and how the months were cut."""
    months = df[(df.period == "month") & (df.level == "total")].sort_values("period_start")
    partial = [
        f"{pd.Timestamp(m.period_start):%b %Y} {int(m.days_covered)}/{int(m.days_in_period)} days"
        for m in months.itertuples()
        if m.days_covered < m.days_in_period
    ]
    uncovered = months[~months.finance_plan_covered.fillna(False).astype(bool)]
    parts = [
        f"Horizon {date_text(row.period_start)} to {date_text(row.period_end)}; plan weeks split into months by days."
    ]
    if partial:
        parts.append("Finance's months pro-rated to the days covered: " + ", ".join(partial) + ".")
    if len(uncovered):
        parts.append(
            "Not compared (finance has no plan for the month): "
            + ", ".join(f"{pd.Timestamp(m):%b %Y}" for m in uncovered.period_start)
            + "."
        )
    parts.append(
        "Price + volume + mix add up exactly to plan of record - finance plan; the family plays the "
        "SKU's role, a family finance has not planned lands in mix."
    )
    return " ".join(parts)


def _controls(ctx: PackContext) -> Markup:
    """One line per control total: does the plan of record's figure arrive downstream unchanged?"""
    df = ctx.marts.read("plan_reconciliation_controls", CONTROL_COLS, optional=("notes",))
    if df.empty:
        return _bodies().controls(None)
    labels = {
        "units": "Units",
        "revenue": "Revenue",
        "margin": "Margin",
        "net_margin": "Net margin",
        "cogs": "COGS",
        "inventory_value_horizon_end": "Inventory at cost, horizon end",
    }
    rows = pd.DataFrame(
        {
            "item": [f"{labels.get(m, m)} \u2192 {d}" for m, d in zip(df.measure, df.downstream)],
            "plan": df.plan_of_record_value,
            "downstream": df.downstream_value,
            "state": [truthy(v) for v in df.reconciles],
        }
    )
    cols = [
        Col("item", "Control total"),
        ncol("plan", "Plan of record", money),
        ncol("downstream", "Downstream", money),
        Col("state", "", _control_badge),
    ]
    return _bodies().controls(table(rows, cols, cls="compact"))


def _control_badge(state: bool | None) -> Markup:
    state = None if is_missing(state) else bool(state)
    return badge(
        {True: "reconciles", False: "leaks", None: "no data"}[state],
        {True: "good", False: "bad", None: "neutral"}[state],
    )


# ---- margin ------------------------------------------------------------------------------------


def margin(ctx: PackContext) -> Markup:
    title = "Gross margin by family"
    df = ctx.marts.read("datapack_margin", MARGIN_COLS)
    if df.empty:
        return ctx.missing(title, "reconciliation-margin", "datapack_margin", MARGIN_COLS)
    periods = {"last_month": "Last month", "last_12_months": "Last 12 months"}
    fig = go.Figure()
    for period, label in periods.items():
        p = df[(df.period == period) & (df.level != "total")].sort_values("family")
        if len(p):
            fig.add_trace(
                go.Bar(
                    x=p.family.astype(str),
                    y=p.margin_pct,
                    name=label,
                    text=[pct(v, 0) for v in p.margin_pct],
                    textposition="outside",
                )
            )
    fig.update_layout(barmode="group", yaxis_title="margin %")
    last = df[df.period == "last_month"]
    last = last.assign(_total=last.level.eq("total")).sort_values(["_total", "family"])
    cols = [
        Col("family", "Family"),
        ncol("revenue", "Revenue", money),
        ncol("margin", "Margin", money),
        ncol("margin_pct", "Margin %", pct),
    ]
    body = _bodies().margin(
        ctx.chart("reconciliation-margin", fig, height=300),
        table(last, cols, cls="compact", row_cls=lambda r: "total" if r.level == "total" else ""),
    )
    return panel(title, body, "reconciliation-margin")


# ---- cash --------------------------------------------------------------------------------------


def cash(ctx: PackContext) -> Markup:
    title = "Cash impact (working capital)"
    df = ctx.marts.read("datapack_cash", CASH_COLS, optional=("notes",))
    points = df.set_index("point") if not df.empty else df
    if df.empty or "as_of" not in points.index:
        return ctx.missing(title, "reconciliation-cash", "datapack_cash", CASH_COLS)
    now = points.loc["as_of"]
    change = points.loc["change"] if "change" in points.index else None
    day_tiles = [
        _days_tile(label, now[col], None if change is None else change[col], lower) for col, label, lower in CASH_DAYS
    ]
    tied = None if change is None else change["cash_tied_up"]
    headline, headline_tone = _cash_headline(tied)
    money_rows = pd.DataFrame(
        {
            "item": ["Receivables (AR)", "Payables (AP)", "Inventory at cost"],
            "now": [now.ar_value, now.ap_value, now.inventory_value],
            "change": [None if change is None else change[c] for c in ("ar_value", "ap_value", "inventory_value")],
        }
    )
    cols = [Col("item", ""), ncol("now", "Now", money), ncol("change", "Change vs a month ago", signed_money)]
    notes = "" if is_missing(now.get("notes")) else str(now.get("notes"))
    body = _bodies().cash(headline, headline_tone, tiles(day_tiles), table(money_rows, cols, cls="compact"))
    return panel(title, body, "reconciliation-cash", note=notes)


def _days_tile(label: str, value, change, lower_is_better: bool) -> Markup:
    if change is None or is_missing(change) or abs(float(change)) < 0.05:
        return tile(label, f"{num(value, 1)} d", ["change \u2014"], trend="flat" if change is not None else None)
    good = (change < 0) == lower_is_better
    return tile(
        label,
        f"{num(value, 1)} d",
        [f"{change:+.1f} d vs a month ago"],
        trend="up" if change > 0 else "down",
        trend_tone="good" if good else "bad",
    )


def _cash_headline(tied) -> tuple[str, str | None]:
    """The headline on cash tied up vs a month ago, and its tone (bad when more is tied up)."""
    if tied is None or is_missing(tied):
        return "Cash tied up vs a month ago: no data.", None
    if tied > 0:
        return f"{money(tied)} more cash tied up than a month ago", "bad"
    return f"{money(-tied)} cash released since a month ago", "good"
