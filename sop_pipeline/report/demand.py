"""Agenda item 2, "Demand review" (15 min): forecast, top movers, promotions and deals, AI callouts
(bias, hockey sticks, outliers), forecast accuracy by family, ABC/XYZ."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from markupsafe import Markup

from sop_pipeline.report.components import Col, auto_table, callout, ncol, panel, table
from sop_pipeline.report.context import ACCENT, PackContext
from sop_pipeline.report.demand_review import forecast_value_added, overrides_and_consumption
from sop_pipeline.report.format import DASH, date_text, is_missing, money, num, pct, signed_money, signed_num
from sop_pipeline.report.templating import macros

FORECAST_COLS = ("family", "week_start", "units_p10", "units_p50", "units_p90", "sensed_units")
ACCURACY_METHODS = {
    "lightgbm": "ML (LightGBM)",
    "seasonal_naive": "Naive (last year)",
    "sales_forecast": "Sales submission",
}
FLAG_KINDS = {
    "sales_optimism": ("Sales optimism: forecasts persistently above actuals", "warn"),
    "hockey_stick": ("Hockey sticks removed: no promotion, order or deal behind them", "warn"),
    "outlier": ("Outliers cleansed from history before training", "neutral"),
}


def build(ctx: PackContext) -> list[Markup]:
    return [
        ctx.render(forecast),
        ctx.render(top_movers),
        ctx.render(promotions_and_deals),
        ctx.render(overrides_and_consumption),
        ctx.render(forecast_value_added),
        ctx.render(callouts),
        ctx.render(accuracy),
        ctx.render(sensing_gain),
        ctx.render(abc_xyz),
    ]


# ---- 13-week forecast by family ------------------------------------------------------------------


def family_forecast(ctx: PackContext) -> pd.DataFrame:
    """Family x week p10/p50/p90 and sensed units (the family mart, else rolled up from SKUs)."""
    fam = ctx.marts.read("datapack_demand_forecast_family", FORECAST_COLS, optional=("revenue",))
    if not fam.empty:
        return fam
    sku = ctx.marts.read("datapack_demand_forecast", FORECAST_COLS, optional=("revenue",))
    if sku.empty:
        return sku
    sku = sku.assign(lo2=(sku.units_p50 - sku.units_p10) ** 2, hi2=(sku.units_p90 - sku.units_p50) ** 2)
    agg = {"units_p50": "sum", "sensed_units": "sum", "lo2": "sum", "hi2": "sum"}
    agg.update({"revenue": "sum"} if "revenue" in sku else {})
    fam = sku.groupby(["family", "week_start"], as_index=False).agg(agg)
    return fam.assign(
        units_p10=(fam.units_p50 - np.sqrt(fam.lo2)).clip(lower=0), units_p90=fam.units_p50 + np.sqrt(fam.hi2)
    ).drop(columns=["lo2", "hi2"])


def forecast(ctx: PackContext) -> Markup:
    title = "13-week forecast by family (units)"
    fam = family_forecast(ctx)
    if fam.empty:
        return ctx.missing(title, "demand-forecast", "datapack_demand_forecast", FORECAST_COLS, wide=True)
    families = sorted(fam["family"].astype(str).unique())
    ncols = min(3, len(families))
    nrows = math.ceil(len(families) / ncols)
    titles = [_family_title(fam[fam.family == f], f) for f in families]
    fig = make_subplots(
        rows=nrows, cols=ncols, subplot_titles=titles, vertical_spacing=0.22 / nrows + 0.06, horizontal_spacing=0.07
    )
    for i, family in enumerate(families):
        g = fam[fam.family == family].sort_values("week_start")
        for trace in _band_traces(g, first=i == 0):
            fig.add_trace(trace, row=i // ncols + 1, col=i % ncols + 1)
    fig.update_annotations(font_size=12)
    fig.update_layout(margin=dict(t=70), legend=dict(y=1 + 40 / (120 + 230 * nrows)))
    fig.update_xaxes(tickformat="%d %b", nticks=5)
    chart = ctx.chart("demand-forecast", fig, height=120 + 230 * nrows)
    note = (
        "Shaded band: 80% of weeks should land between p10 and p90. Sensed = after demand sensing "
        "(booked orders, week-0 POS) for weeks 1-6."
    )
    return panel(title, chart, "demand-forecast", note=note, wide=True)


def _family_title(g: pd.DataFrame, family: str) -> str:
    if "revenue" in g and g["revenue"].notna().any():
        return f"{family} \u00b7 13-wk revenue {money(g['revenue'].sum())}"
    return family


def _band_traces(g: pd.DataFrame, first: bool) -> list[go.Scatter]:
    common = dict(x=g["week_start"], mode="lines")
    return [
        go.Scatter(
            **common,
            y=g["units_p90"],
            line=dict(width=0),
            showlegend=False,
            hoverinfo="skip",
            name="p90",
            legendgroup="band",
        ),
        go.Scatter(
            **common,
            y=g["units_p10"],
            line=dict(width=0),
            fill="tonexty",
            fillcolor="rgba(9,105,218,0.15)",
            name="p10-p90 band",
            legendgroup="band",
            showlegend=first,
        ),
        go.Scatter(
            **common,
            y=g["units_p50"],
            line=dict(color=ACCENT, width=2),
            name="forecast p50",
            legendgroup="p50",
            showlegend=first,
        ),
        go.Scatter(
            **common,
            y=g["sensed_units"],
            line=dict(color="#bf8700", width=2, dash="dash"),
            name="sensed",
            legendgroup="sensed",
            showlegend=first,
        ),
    ]


# ---- top movers, promotions, deals ----------------------------------------------------------

REVIEW_KIND_COLUMNS = ("item", "kind", "category", "section", "type")
MOVER_ITEMS = {"top_mover_vs_last_cycle": "vs last cycle", "top_mover_vs_last_year": "vs last year"}
DEAL_ITEMS = {"promotion": "Promotion", "lost_deal": "Lost deal", "new_win": "New win", "open_deal": "Open deal"}
DEAL_WORDS = ("promo", "deal", "won", "win", "lost", "opportunit")


def review_rows(ctx: PackContext, deals: bool) -> pd.DataFrame:
    """Rows of the demand_review mart: top movers (deals=False) or promotions and CRM deals (deals=True).

    The mart names its row type `item` (older marts: kind, category, ...); a row whose type is a
    promotion or deal word belongs to the deals panel, any other to the top movers. Without a
    type column every row counts as a top mover."""
    review = ctx.marts.read("demand_review")
    kind_cols = [c for c in REVIEW_KIND_COLUMNS if c in review.columns]
    if review.empty or not kind_cols:
        return review.iloc[0:0] if deals else review
    kinds = review[kind_cols[0]].astype(str).str.lower()
    is_deal = kinds.isin(list(DEAL_ITEMS)) | (~kinds.isin(list(MOVER_ITEMS)) & kinds.str.contains("|".join(DEAL_WORDS)))
    return review[is_deal == deals]


def top_movers(ctx: PackContext) -> Markup:
    title = "Top movers"
    review = review_rows(ctx, deals=False)
    if not review.empty:
        return panel(
            title,
            _movers_table(review),
            "demand-top-movers",
            wide=True,
            note="The 13-week forecast vs the previous cycle's forecast of the same weeks (on a first run, "
            "this plan of record's demand vs the last plan of record's, from the plan_history extract), and vs "
            "actual demand of the same weeks a year earlier; 'Against' says what is compared and over which "
            "weeks (largest changes up and down, units).",
        )
    movers = movers_vs_last_year(ctx)
    if movers.empty:
        return ctx.missing(
            title,
            "demand-top-movers",
            "demand_review",
            reason="mart demand_review is not published yet, and the forecast or ABC/XYZ "
            "mart needed to compare with last year is missing",
        )
    cols = [
        Col("sku", "SKU"),
        Col("family", "Family"),
        Col("abc", "ABC"),
        ncol("hist_units_wk", "Last 52 wk, units/wk", lambda v: num(v, 1)),
        ncol("fcst_units_wk", "Next 13 wk, units/wk", lambda v: num(v, 1)),
        ncol("change_pct", "Change", _signed_pct),
        ncol("revenue_change_wk", "Revenue/wk change", signed_money),
    ]
    note = (
        "demand_review mart not published yet: the SKUs whose 13-week forecast moves most against their "
        "last 52 weeks' weekly average (revenue impact)."
    )
    return panel(title, table(movers, cols), "demand-top-movers", note=note)


def _movers_table(review: pd.DataFrame) -> Markup:
    if "item" not in review or "units_change" not in review:
        return auto_table(review, max_rows=20)
    df = review.assign(
        compared=review["item"].map(lambda v: MOVER_ITEMS.get(str(v), str(v))), _abs=review["units_change"].abs()
    )
    df = df.sort_values(["compared", "_abs"], ascending=[True, False], kind="stable")
    cols = [
        Col("compared", "Compared"),
        Col("sku", "SKU"),
        Col("family", "Family"),
        ncol("units_before", "Units before"),
        ncol("units", "Units now"),
        ncol("units_change", "Change", signed_num),
    ]
    if "detail" in df and df["detail"].notna().any():
        cols.insert(1, Col("detail", "Against"))
    return table(df, cols, cls="compact")


def movers_vs_last_year(ctx: PackContext, n: int = 8) -> pd.DataFrame:
    fc = ctx.marts.read("datapack_demand_forecast", ("sku", "family", "units_p50", "revenue"))
    hist = ctx.marts.read("datapack_abc_xyz", ("sku", "abc", "revenue_12m", "mean_weekly_units"))
    if fc.empty or hist.empty:
        return pd.DataFrame()
    fc = fc.groupby(["sku", "family"], as_index=False).agg(
        units=("units_p50", "sum"), revenue=("revenue", "sum"), weeks=("units_p50", "size")
    )
    df = fc.merge(hist, on="sku", how="inner")
    df = df.assign(
        fcst_units_wk=df.units / df.weeks,
        hist_units_wk=df.mean_weekly_units,
        revenue_change_wk=df.revenue / df.weeks - df.revenue_12m / 52,
    )
    df["change_pct"] = np.where(
        df.hist_units_wk > 0, df.fcst_units_wk / df.hist_units_wk.where(df.hist_units_wk > 0) - 1, np.nan
    )
    return df.reindex(df.revenue_change_wk.abs().sort_values(ascending=False).index).head(n)


def _signed_pct(value) -> str:
    return DASH if is_missing(value) else f"{value * 100:+.0f}%"


def promotions_and_deals(ctx: PackContext) -> Markup:
    title = "Promotions, lost deals & new wins"
    deals = review_rows(ctx, deals=True)
    if not deals.empty:
        return panel(title, _deals_body(deals), "demand-promotions", note=_deals_note(deals), wide=True)
    for table_name in ("datapack_promotions", "datapack_opportunities"):
        df = ctx.marts.read(table_name)
        if not df.empty:
            return panel(title, auto_table(df, max_rows=10), "demand-promotions", note=f"From {table_name}.")
    return ctx.missing(
        title,
        "demand-promotions",
        "demand_review",
        reason="no promotions or CRM deals are published yet (demand_review)",
    )


def _deals_body(deals: pd.DataFrame) -> Markup:
    if "item" not in deals:
        return auto_table(deals, max_rows=20)
    order = {k: i for i, k in enumerate(("lost_deal", "new_win", "open_deal", "promotion"))}
    df = deals.assign(
        what=deals["item"].map(lambda v: DEAL_ITEMS.get(str(v), str(v))),
        _order=deals["item"].map(lambda v: order.get(str(v), 9)),
    )
    df = df.sort_values(["_order"] + [c for c in ("date_from", "sku") if c in df], kind="stable")
    cols = [
        Col("what", "What"),
        Col("reference", "Ref"),
        Col("sku", "SKU / family"),
        Col("family", "Family"),
        Col("date_from", "From", date_text),
        Col("date_to", "To", date_text),
        ncol("units", "Units"),
        Col("detail", "Detail"),
    ]
    counts = df["item"].astype(str).value_counts()
    summary = ", ".join(f"{label}: {int(counts.get(item, 0))}" for item, label in DEAL_ITEMS.items())
    return macros("demand.html.j2").deals(summary, table(df, cols, cls="compact"))


def _deals_note(deals: pd.DataFrame) -> str:
    if "window_start" in deals and deals["window_start"].notna().any():
        since = f"since the last cycle ({date_text(deals['window_start'].dropna().iloc[0])})"
    else:
        since = "since the last cycle"
    closed = deals["item"].astype(str).isin(["lost_deal", "new_win"]).any() if "item" in deals else True
    news = f"Lost deals and new wins: CRM deals closed {since}." if closed else f"No CRM deal was lost or won {since}."
    return f"{news} Open deals: probability >= 50%. Promotions overlapping the 13-week horizon."


# ---- AI callouts -------------------------------------------------------------------------------


def callouts(ctx: PackContext) -> Markup:
    title = "AI callouts: forecast bias and outliers"
    shown = 4
    df = ctx.marts.read("demand_flags", ("kind", "reason"), optional=("sku",))
    if df.empty:
        return ctx.missing(title, "demand-callouts", "demand_flags", ("kind", "reason"), wide=True)
    boxes = []
    for kind, (label, tone_cls) in FLAG_KINDS.items():
        flags = df[df["kind"] == kind]
        if "sku" in flags:  # family-level flags (no SKU) first: they move the most volume
            flags = flags.assign(_sku=flags["sku"].notna()).sort_values("_sku", kind="stable")
        reasons = list(flags["reason"].astype(str))
        if reasons:
            boxes.append(
                callout(f"{label} ({len(reasons)})", reasons[:shown], tone_cls, more=max(0, len(reasons) - shown))
            )
        else:
            boxes.append(callout(f"{label}: none this cycle", [], "good"))
    return panel(title, macros("demand.html.j2").callouts(boxes), "demand-callouts", wide=True)


# ---- forecast accuracy -------------------------------------------------------------------------


def accuracy(ctx: PackContext) -> Markup:
    title = "Forecast accuracy by family (WAPE, lower is better)"
    cols = ("family", "lag", "method", "wape", "bias")
    df = ctx.marts.read("forecast_accuracy", cols, optional=("mape", "mix_error"))
    df = df[df["method"].isin(list(ACCURACY_METHODS))] if not df.empty else df
    if df.empty:
        return ctx.missing(title, "demand-accuracy", "forecast_accuracy", cols, wide=True)
    summary = df.groupby(["family", "method"], as_index=False).mean(numeric_only=True)
    families = sorted(summary.family.unique(), key=lambda f: (f == "All families", f))
    fig = go.Figure()
    for method, label in ACCURACY_METHODS.items():
        m = summary[summary.method == method].set_index("family").reindex(families)
        fig.add_trace(
            go.Bar(
                x=families,
                y=m["wape"] * 100,
                name=label,
                text=[pct(v, 0) for v in m["wape"] * 100],
                textposition="outside",
            )
        )
    fig.update_layout(barmode="group", yaxis_title="WAPE %", bargap=0.25)
    lags = f"{int(df.lag.min())}-{int(df.lag.max())}"
    note = (
        f"Average over forecast lags {lags} weeks (rolling-origin backtest). Bias > 0 = over-forecast; "
        "mix error = error from the split inside the family."
    )
    return panel(
        title,
        [ctx.chart("demand-accuracy", fig, height=340), _accuracy_table(summary, families)],
        "demand-accuracy",
        note=note,
        wide=True,
    )


def _accuracy_table(summary: pd.DataFrame, families: list) -> Markup:
    wide = summary.pivot(index="family", columns="method").reindex(families)
    rows = pd.DataFrame({"family": families})
    for method in ACCURACY_METHODS:
        for metric in ("wape", "bias", "mix_error"):
            key = (metric, method)
            rows[f"{metric}_{method}"] = wide[key].to_numpy() if key in wide.columns else np.nan
    frac = lambda v: pct(v, 1, fraction=True)  # noqa: E731
    cols = [
        Col("family", "Family"),
        ncol("wape_lightgbm", "WAPE ML", frac),
        ncol("wape_seasonal_naive", "WAPE naive", frac),
        ncol("wape_sales_forecast", "WAPE sales", frac),
        ncol("bias_lightgbm", "Bias ML", frac),
        ncol("bias_sales_forecast", "Bias sales", frac),
        ncol("mix_error_lightgbm", "Mix error ML", frac),
    ]
    return table(rows, cols, cls="compact")


# ---- demand sensing: learned vs rule per lag ---------------------------------------------------

SENSING_METHODS = {"learned": "Learned (LightGBM)", "rule": "Booking-curve rule"}


def sensing_gain(ctx: PackContext) -> Markup:
    title = "Demand sensing by lag: learned model vs booking-curve rule (WAPE)"
    cols = ("lag", "wape_statistical", "wape_rule", "wape_learned", "chosen", "gain_points", "n")
    df = ctx.marts.read("sensing_gain", cols)
    if df.empty:
        return ctx.missing(title, "demand-sensing-gain", "sensing_gain", cols)
    df = df.sort_values("lag").assign(used=lambda d: d["chosen"].map(lambda v: SENSING_METHODS.get(str(v), str(v))))
    frac = lambda v: pct(v, 1, fraction=True)  # noqa: E731
    table_cols = [
        Col("lag", "Lag (weeks)"),
        ncol("wape_statistical", "WAPE statistical", frac),
        ncol("wape_rule", "WAPE rule", frac),
        ncol("wape_learned", "WAPE learned", frac),
        ncol("gain_points", "Learned gain (pts)", lambda v: DASH if is_missing(v) else f"{v:+.1f}"),
        Col("used", "Used"),
        ncol("n", "SKU-weeks", lambda v: num(v, 0)),
    ]
    learned = [str(int(v)) for v in df.loc[df["chosen"] == "learned", "lag"]]
    used = f"learned model at lag {', '.join(learned)}; rule elsewhere" if learned else "rule at every lag"
    note = (
        f"Sensing of weeks 1-6 this cycle: {used}. Rolling-origin backtest on the same SKU-weeks; the learned "
        "model is scored out of sample and used only where its WAPE is lower than the rule's."
    )
    return panel(title, table(df, table_cols, cls="compact"), "demand-sensing-gain", note=note)


# ---- ABC / XYZ ---------------------------------------------------------------------------------


def abc_xyz(ctx: PackContext) -> Markup:
    title = "ABC (revenue) x XYZ (variability): SKU counts"
    cols = ("sku", "abc", "xyz")
    df = ctx.marts.read("datapack_abc_xyz", cols, optional=("revenue_12m",))
    if df.empty:
        return ctx.missing(title, "demand-abc-xyz", "datapack_abc_xyz", cols, wide=True)
    df = df.assign(xyz=df["xyz"].fillna("Z").astype(str), abc=df["abc"].astype(str))
    # BOM components with no sales of their own have dependent demand: no revenue to rank, no
    # variability of their own (their class would be C-Z by default), so they stay off the matrix
    components = ctx.marts.read("component_requirements", ("component_sku",))
    dependent = (
        df["sku"].isin(set(components["component_sku"]))
        & (df["revenue_12m"].fillna(0) <= 0 if "revenue_12m" in df else True)
        if not components.empty
        else pd.Series(False, index=df.index)
    )
    df = df[~dependent]
    total_rev = df["revenue_12m"].sum() if "revenue_12m" in df else 0
    rows = [
        {
            "abc": a,
            "cells": [_abc_cell(df[(df.abc == a) & (df.xyz == x)], total_rev) for x in "XYZ"]
            + [_abc_cell(df[df.abc == a], total_rev)],
        }
        for a in "ABC"
    ]
    body = macros("demand.html.j2").abc_xyz(list("XYZ") + ["All"], rows)
    note = (
        "A = top 80% of revenue, B next 15%, C the rest; X = steady (CV <= 0.5), Y = variable, Z = erratic. "
        "Cells: SKUs and share of 52-week revenue."
    )
    if dependent.any():
        note += (
            f" {int(dependent.sum())} BOM components without sales of their own (dependent demand, planned by "
            "MRP) are left out."
        )
    return panel(title, body, "demand-abc-xyz", note=note, wide=True)


def _abc_cell(cell: pd.DataFrame, total_rev: float) -> str:
    """SKU count and share of 52-week revenue."""
    share = f" \u00b7 {cell['revenue_12m'].sum() / total_rev:.0%}" if total_rev else ""
    return f"{len(cell)}{share}"
