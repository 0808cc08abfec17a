"""Agenda item 4, "Reconciliation" (10 min): the price-volume-mix bridge, margin by family and
the cash impact (working capital)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from sop_pipeline.report.context import ACCENT, BAD, GOOD, NEUTRAL, PackContext
from sop_pipeline.report.html import (Col, Safe, grid, is_missing, join, money, ncol, num, panel, pct,
                                      signed_money, table, tag, tile, tiles)

PVM_COLS = ("comparison", "family", "level", "revenue_base", "price_effect", "volume_effect", "mix_effect",
            "revenue_actual")
COMPARISONS = {"vs_plan": ("Plan", "Revenue bridge: plan \u2192 actual"),
               "vs_prior_month": ("Prior month", "Revenue bridge: prior month \u2192 actual")}
MARGIN_COLS = ("period", "family", "level", "revenue", "margin", "margin_pct")
CASH_COLS = ("point", "ar_value", "ap_value", "inventory_value", "dso_days", "dpo_days", "dio_days", "ccc_days",
             "cash_tied_up")
# (column, label, lower is better)
CASH_DAYS = [("dso_days", "DSO (days sales outstanding)", True), ("dpo_days", "DPO (days payables outstanding)", False),
             ("dio_days", "DIO (days inventory outstanding)", True), ("ccc_days", "Cash conversion cycle", True)]


def build(ctx: PackContext) -> Safe:
    return join([ctx.render(pvm), grid(ctx.render(margin), ctx.render(cash))])


# ---- price-volume-mix ----------------------------------------------------------------------------

def pvm(ctx: PackContext) -> Safe:
    title = "Price-volume-mix bridge (last complete month)"
    df = ctx.marts.read("datapack_finance_pvm", PVM_COLS, optional=("month_start",))
    if df.empty:
        return ctx.missing(title, "reconciliation-pvm", "datapack_finance_pvm", PVM_COLS, wide=True)
    charts = []
    for comparison, (base_label, chart_title) in COMPARISONS.items():
        total = df[(df.comparison == comparison) & (df.level == "total")]
        if len(total):
            charts.append(ctx.chart(f"pvm-{comparison.replace('_', '-')}", _waterfall(total.iloc[0], base_label,
                                                                                      chart_title), height=340))
    if not charts:
        return ctx.missing(title, "reconciliation-pvm", "datapack_finance_pvm",
                           reason="mart datapack_finance_pvm has no total row")
    families = df[(df.comparison == "vs_plan") & (df.level != "total")].sort_values("family")
    cols = [Col("family", "Family"), ncol("revenue_base", "Plan", money), ncol("price_effect", "Price", signed_money),
            ncol("volume_effect", "Volume", signed_money), ncol("mix_effect", "Mix", signed_money),
            ncol("revenue_actual", "Actual", money)]
    month = df["month_start"].dropna().iloc[0] if "month_start" in df and df["month_start"].notna().any() else None
    note = (f"{pd.Timestamp(month):%B %Y}. " if month is not None else "") + \
        "Price + volume + mix add up exactly to actual - base. Against plan the family plays the SKU's role."
    body = tag("div", join(charts), cls="chart-row") + tag("h4", "By family, vs plan") + table(families, cols,
                                                                                                 cls="compact")
    return panel(title, body, "reconciliation-pvm", note=note, wide=True)


def _waterfall(row: pd.Series, base_label: str, title: str) -> go.Figure:
    steps = [(base_label, row.revenue_base, "absolute"), ("Price", row.price_effect, "relative"),
             ("Volume", row.volume_effect, "relative"), ("Mix", row.mix_effect, "relative"),
             ("Actual", row.revenue_actual, "total")]
    fig = go.Figure(go.Waterfall(
        x=[s[0] for s in steps], y=[s[1] for s in steps], measure=[s[2] for s in steps],
        text=[money(s[1]) if s[2] != "relative" else signed_money(s[1]) for s in steps], textposition="outside",
        increasing=dict(marker=dict(color=GOOD)), decreasing=dict(marker=dict(color=BAD)),
        totals=dict(marker=dict(color=ACCENT)), connector=dict(line=dict(color=NEUTRAL, width=1)),
        hovertemplate="%{x}: %{y:,.0f}<extra></extra>"))
    low = min(row.revenue_base, row.revenue_actual)
    high = max(row.revenue_base, row.revenue_actual)
    swing = sum(abs(v) for v in (row.price_effect, row.volume_effect, row.mix_effect))
    fig.update_layout(title=dict(text=title, font_size=13), showlegend=False,
                      yaxis=dict(range=[max(0, low - 1.3 * swing), high + 1.3 * swing], title="revenue"))
    return fig


# ---- margin ------------------------------------------------------------------------------------

def margin(ctx: PackContext) -> Safe:
    title = "Gross margin by family"
    df = ctx.marts.read("datapack_margin", MARGIN_COLS)
    if df.empty:
        return ctx.missing(title, "reconciliation-margin", "datapack_margin", MARGIN_COLS)
    periods = {"last_month": "Last month", "last_12_months": "Last 12 months"}
    fig = go.Figure()
    for period, label in periods.items():
        p = df[(df.period == period) & (df.level != "total")].sort_values("family")
        if len(p):
            fig.add_trace(go.Bar(x=p.family.astype(str), y=p.margin_pct, name=label,
                                 text=[pct(v, 0) for v in p.margin_pct], textposition="outside"))
    fig.update_layout(barmode="group", yaxis_title="margin %")
    last = df[df.period == "last_month"]
    last = last.assign(_total=last.level.eq("total")).sort_values(["_total", "family"])
    cols = [Col("family", "Family"), ncol("revenue", "Revenue", money), ncol("margin", "Margin", money),
            ncol("margin_pct", "Margin %", pct)]
    body = ctx.chart("reconciliation-margin", fig, height=300) + tag("h4", "Last month") + table(
        last, cols, cls="compact", row_cls=lambda r: "total" if r.level == "total" else "")
    return panel(title, body, "reconciliation-margin")


# ---- cash --------------------------------------------------------------------------------------

def cash(ctx: PackContext) -> Safe:
    title = "Cash impact (working capital)"
    df = ctx.marts.read("datapack_cash", CASH_COLS, optional=("notes",))
    points = df.set_index("point") if not df.empty else df
    if df.empty or "as_of" not in points.index:
        return ctx.missing(title, "reconciliation-cash", "datapack_cash", CASH_COLS)
    now = points.loc["as_of"]
    change = points.loc["change"] if "change" in points.index else None
    day_tiles = [_days_tile(label, now[col], None if change is None else change[col], lower)
                 for col, label, lower in CASH_DAYS]
    tied = None if change is None else change["cash_tied_up"]
    headline = _cash_headline(tied)
    money_rows = pd.DataFrame({"item": ["Receivables (AR)", "Payables (AP)", "Inventory at cost"],
                               "now": [now.ar_value, now.ap_value, now.inventory_value],
                               "change": [None if change is None else change[c]
                                          for c in ("ar_value", "ap_value", "inventory_value")]})
    cols = [Col("item", ""), ncol("now", "Now", money), ncol("change", "Change vs a month ago", signed_money)]
    notes = "" if is_missing(now.get("notes")) else str(now.get("notes"))
    body = headline + tiles(day_tiles) + table(money_rows, cols, cls="compact")
    return panel(title, body, "reconciliation-cash", note=notes)


def _days_tile(label: str, value, change, lower_is_better: bool) -> Safe:
    if change is None or is_missing(change) or abs(float(change)) < 0.05:
        return tile(label, f"{num(value, 1)} d", ["change \u2014"], trend="flat" if change is not None else None)
    good = (change < 0) == lower_is_better
    return tile(label, f"{num(value, 1)} d", [f"{change:+.1f} d vs a month ago"],
                trend="up" if change > 0 else "down", trend_tone="good" if good else "bad")


def _cash_headline(tied) -> Safe:
    if tied is None or is_missing(tied):
        return tag("p", "Cash tied up vs a month ago: no data.", cls="headline")
    tone_cls = "bad" if tied > 0 else "good"
    text = (f"{money(tied)} more cash tied up than a month ago" if tied > 0
            else f"{money(-tied)} cash released since a month ago")
    return tag("p", text, cls=f"headline {tone_cls}")
