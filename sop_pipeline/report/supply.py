"""Agenda item 3, "Supply review" (15 min): capacity by constraint, changeover/sequence gain,
supplier risk, the service-vs-inventory curve, inventory position, aged inventory and E&O."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from markupsafe import Markup

from sop_pipeline.report.components import Col, auto_table, ncol, panel, table
from sop_pipeline.report.context import COLORWAY, GOOD, NEUTRAL, PackContext
from sop_pipeline.report.format import DASH, date_text, is_missing, money, num, pct, signed_money, truthy

CAPACITY_COLS = ("resource_id", "week_start", "load_pct", "is_bottleneck")
SEQUENCE_COLS = ("resource_id", "changeover_hours_fifo", "changeover_hours_optimized")
CURVE_COLS = ("family", "service_level", "safety_stock_value", "is_current", "is_proposed", "is_chosen")
CURVE_POINTS = {
    "is_current": ("today", "circle"),
    "is_proposed": ("proposed (least cost)", "diamond"),
    "is_chosen": ("chosen in the meeting", "star"),
}
AGE_COLORS = ["#2da44e", "#a2d9a5", "#f2cc60", "#fb8f44", "#cf222e"]


def build(ctx: PackContext) -> list:
    """The panels in order; a tuple is a row of panels side by side (a grid)."""
    return [
        ctx.render(capacity),
        (ctx.render(sequence_gain), ctx.render(supplier_risk)),
        ctx.render(late_components),
        ctx.render(cross_training),
        ctx.render(offloads),
        ctx.render(service_curve),
        (ctx.render(inventory_position), ctx.render(eo)),
        ctx.render(aged_inventory),
    ]


def as_percent(series: pd.Series) -> pd.Series:
    """Percent values; a column that holds fractions (all <= 2.5) is scaled to percent."""
    s = pd.to_numeric(series, errors="coerce")
    return s * 100 if s.notna().any() and s.abs().max() <= 2.5 else s


# ---- capacity ----------------------------------------------------------------------------------


def capacity(ctx: PackContext) -> Markup:
    title = "Capacity by constraint: weekly load"
    df = ctx.marts.read("datapack_capacity", CAPACITY_COLS, optional=("type", "changeover_hours", "plan_load_pct"))
    if df.empty:
        return ctx.missing(title, "supply-capacity", "datapack_capacity", CAPACITY_COLS, wide=True)
    df = df.assign(load_pct=as_percent(df["load_pct"]), is_bottleneck=_flag(df["is_bottleneck"]))
    has_plan = "plan_load_pct" in df and df["plan_load_pct"].notna().any()
    bottlenecks = set(df.loc[df.is_bottleneck, "resource_id"].astype(str))
    declared = declared_constraints(ctx)
    df["label"] = [
        ("\u2605 " if str(r) in bottlenecks else "") + str(r) + (" (declared constraint)" if str(r) in declared else "")
        for r in df["resource_id"]
    ]
    shown = "plan_load_pct" if has_plan else "load_pct"
    grid_df = df.pivot_table(index="label", columns="week_start", values=shown, aggfunc="max")
    demand = df.pivot_table(index="label", columns="week_start", values="load_pct", aggfunc="max")
    order = df.groupby("label")["load_pct"].max().reindex(grid_df.index)
    grid_df = grid_df.loc[order.sort_values(kind="stable").index]  # most loaded by demand on top
    demand = demand.reindex(index=grid_df.index, columns=grid_df.columns)
    text = [
        [
            num(v) + (f" ({num(d)})" if has_plan and pd.notna(d) and pd.notna(v) and abs(d - v) >= 1 else "")
            for v, d in zip(row, drow)
        ]
        for row, drow in zip(grid_df.to_numpy(), demand.to_numpy())
    ]
    fig = go.Figure(
        go.Heatmap(
            z=grid_df.to_numpy(),
            x=list(grid_df.columns),
            y=list(grid_df.index),
            zmin=0,
            zmax=max(120, df[shown].max()),
            colorscale=[[0, "#dafbe1"], [0.6, "#fff8c5"], [0.8, "#ffb77c"], [1, "#cf222e"]],
            text=text,
            customdata=demand.to_numpy(),
            texttemplate="%{text}",
            colorbar=dict(title="load %"),
            hovertemplate=(
                "%{y}<br>week %{x|%d %b}: plan %{z:.0f}% load, demand %{customdata:.0f}%<extra></extra>"
                if has_plan
                else "%{y}<br>week %{x|%d %b}: %{z:.0f}% load<extra></extra>"
            ),
        )
    )
    fig.update_xaxes(tickformat="%d %b")
    chart = ctx.chart("supply-capacity", fig, height=140 + 36 * len(grid_df))
    if has_plan:
        note = (
            "Load of the plan of record = (run + changeover) hours / available hours; in brackets where "
            "different, the load of the demand forecast's make volume, gross: before the plan netted stock on "
            "hand and open orders, built ahead, offloaded to alternates, moved or cut what did not fit. "
            "\u2605 = measured bottleneck (highest demand load in the week); red above 100%."
        )
    else:
        note = (
            "\u2605 = measured bottleneck (highest load in the week). Load = required (run + changeover) hours / "
            "available hours; red above 100%."
        )
    measured = _measured_bottleneck(df)
    if declared and measured and measured not in declared:
        note += (
            f" The measured bottleneck is {measured}, not the declared constraint {', '.join(sorted(declared))} "
            "(resources.is_constraint): the scorecard shows OEE for both."
        )
    return panel(title, [chart, _capacity_table(df, has_plan)], "supply-capacity", note=note, wide=True)


def declared_constraints(ctx: PackContext) -> set[str]:
    """The declared constraint resources (resources.is_constraint), as the KPI scorecard names them."""
    df = ctx.marts.read("kpi_scorecard", ("kpi", "resource_id"), where="kpi = 'oee_constraint_pct'")
    ids = df["resource_id"].dropna().astype(str) if not df.empty else []
    return {r.strip() for value in ids for r in value.split(",") if r.strip()}


def _measured_bottleneck(df: pd.DataFrame) -> str | None:
    """The resource marked bottleneck in most weeks (then the highest peak load)."""
    if df.empty:
        return None
    ranked = df.groupby("resource_id").agg(weeks=("is_bottleneck", "sum"), peak=("load_pct", "max"))
    ranked = ranked.sort_values(["weeks", "peak"], ascending=False)
    return str(ranked.index[0]) if ranked["weeks"].iloc[0] > 0 else None


def _capacity_table(df: pd.DataFrame, has_plan: bool) -> Markup:
    """Per resource: the plan's load (``has_plan``: the mart has it) beside the demand's."""
    agg = dict(
        avg_load=("load_pct", "mean"),
        peak_load=("load_pct", "max"),
        weeks_over=("load_pct", lambda s: int((s > 100).sum())),
        bottleneck_weeks=("is_bottleneck", "sum"),
    )
    if "changeover_hours" in df:
        agg["changeover_hours"] = ("changeover_hours", "sum")
    if has_plan:
        agg["plan_avg_load"] = ("plan_load_pct", "mean")
        agg["plan_peak_load"] = ("plan_load_pct", "max")
    keys = ["resource_id"] + (["type"] if "type" in df else [])
    summary = df.groupby(keys, as_index=False).agg(**agg).sort_values("peak_load", ascending=False)
    demand = "Demand " if has_plan else ""
    cols = [
        Col("resource_id", "Resource"),
        Col("type", "Type"),
        ncol("plan_avg_load", "Plan avg load", pct),
        ncol("plan_peak_load", "Plan peak load", pct),
        ncol("avg_load", f"{demand}avg load".capitalize(), pct),
        ncol("peak_load", f"{demand}peak load".capitalize(), pct),
        ncol("weeks_over", f"{demand}weeks > 100%".capitalize()),
        ncol("bottleneck_weeks", "Bottleneck weeks"),
        ncol("changeover_hours", "Changeover h"),
    ]
    return table(summary, cols, cls="compact")


# ---- sequencing ----------------------------------------------------------------------------------


def sequence_gain(ctx: PackContext) -> Markup:
    title = "Changeovers: FIFO vs optimized sequence"
    df = ctx.marts.read(
        "sequence_summary",
        SEQUENCE_COLS,
        optional=("oee_fifo", "oee_optimized", "late_orders_fifo", "late_orders", "wait_hours", "unscheduled_units"),
    )
    if df.empty:
        return ctx.missing(title, "supply-sequence", "sequence_summary", SEQUENCE_COLS)
    agg = {
        c: "sum"
        for c in SEQUENCE_COLS[1:] + ("late_orders_fifo", "late_orders", "wait_hours", "unscheduled_units")
        if c in df
    }
    agg.update({c: "mean" for c in ("oee_fifo", "oee_optimized") if c in df})
    s = df.groupby("resource_id", as_index=False).agg(agg)
    for c in ("oee_fifo", "oee_optimized"):
        if c in s:
            s[c] = as_percent(s[c])
    saved = s.changeover_hours_fifo.sum() - s.changeover_hours_optimized.sum()
    fig = go.Figure(
        [
            go.Bar(x=s.resource_id.astype(str), y=s.changeover_hours_fifo, name="FIFO", marker_color=NEUTRAL),
            go.Bar(x=s.resource_id.astype(str), y=s.changeover_hours_optimized, name="optimized", marker_color=GOOD),
        ]
    )
    fig.update_layout(barmode="group", yaxis_title="changeover hours")
    cols = [
        Col("resource_id", "Resource"),
        ncol("changeover_hours_fifo", "FIFO h", lambda v: num(v, 1)),
        ncol("changeover_hours_optimized", "Optimized h", lambda v: num(v, 1)),
        ncol("oee_fifo", "Schedule OEE FIFO", pct),
        ncol("oee_optimized", "Schedule OEE optimized", pct),
        ncol("late_orders_fifo", "Late FIFO"),
        ncol("late_orders", "Late optimized"),
        ncol("wait_hours", "Waiting h", lambda v: num(v, 1)),
        ncol("unscheduled_units", "Unscheduled units", num),
    ]
    declared = declared_constraints(ctx)
    sequenced = [f"{r} (declared constraint)" if r in declared else r for r in s.resource_id.astype(str)]
    note = (
        f"Sequenced on {', '.join(sequenced)} as one timetable: an operation holds its line and its tooling "
        "together, and a line's changeover holds the tooling too. The optimized sequence saves "
        f"{num(saved, 1)} changeover hours over the planning weeks. Waiting h = hours a resource stood "
        "free because another resource of its next operation was still busy. Schedule OEE = run / (run + changeover) hours of the sequence x the "
        "resource's historical performance x quality: what the sequence itself loses to changeovers, not "
        "the measured OEE of the scorecard (which also loses downtime and idle time)."
    )
    cap = ctx.marts.read("datapack_capacity", ("resource_id", "load_pct", "is_bottleneck"))
    if not cap.empty:
        cap = cap.assign(load_pct=as_percent(cap["load_pct"]), is_bottleneck=_flag(cap["is_bottleneck"]))
        measured = _measured_bottleneck(cap)
        if measured and measured not in set(s.resource_id.astype(str)):
            note += f" The measured bottleneck (capacity view) is {measured}."
    return panel(
        title,
        [ctx.chart("supply-sequence", fig, height=300), table(s, cols, cls="compact")],
        "supply-sequence",
        note=note,
    )


# ---- suppliers ---------------------------------------------------------------------------------

SUPPLIER_COLS = [
    Col("supplier_id", "Supplier"),
    Col("supplier_name", "Name"),
    Col("route", "Route"),
    ncol("otif_pct", "OTIF", pct),
    ncol("lead_time_mean_days", "Lead time d", lambda v: num(v, 1)),
    ncol("lead_time_sd_days", "Lead time sd", lambda v: num(v, 1)),
    ncol("lead_time_trend_days", "Trend d", lambda v: DASH if is_missing(v) else f"{v:+.1f}"),
]


def supplier_risk(ctx: PackContext) -> Markup:
    title = "Supplier risk"
    df = ctx.marts.read("datapack_supplier_performance")
    if df.empty:
        return ctx.missing(title, "supply-suppliers", "datapack_supplier_performance")
    otif = [c for c in df.columns if "otif" in c.lower()]
    if otif:
        df = df.sort_values(otif[0], kind="stable")
    known = "otif_pct" in df and "supplier_id" in df
    body = table(df, SUPPLIER_COLS, cls="compact", max_rows=8) if known else auto_table(df, max_rows=8)
    note = "Worst on-time-in-full first; trend = change in lead time (days) over recent weeks." if otif else ""
    return panel(title, body, "supply-suppliers", note=note)


LATE_COLS = (
    "component_sku",
    "supplier_id",
    "need_week_start",
    "release_date",
    "earliest_arrival_date",
    "days_late",
    "qty",
    "late",
)
LATE_TABLE = [
    Col("component_sku", "Component"),
    Col("component_description", "Description"),
    Col("supplier_id", "Supplier"),
    Col("need_week_start", "Needed week", date_text),
    Col("release_date", "Order by", date_text),
    Col("earliest_arrival_date", "Earliest arrival", date_text),
    ncol("days_late", "Days late", num),
    ncol("qty", "Qty", num),
    ncol("value", "Value", money),
    Col("supplier_risk_signals", "Supplier risk"),
]


def late_components(ctx: PackContext) -> Markup:
    """Components the plan of record needs that cannot arrive in time (MRP purchase requirements whose
    release date is before the as-of), most days late first."""
    title = "Components that cannot arrive in time"
    df = ctx.marts.read(
        "purchase_requirements", LATE_COLS, optional=("component_description", "value", "supplier_risk_signals")
    )
    if df.empty and ctx.marts.has("purchase_requirements", *LATE_COLS):
        return ctx.nothing(title, "supply-late-components", "Every planned purchase can arrive in time.", wide=True)
    if df.empty:
        return ctx.missing(title, "supply-late-components", "purchase_requirements", LATE_COLS, wide=True)
    late = df[df["late"].map(truthy).fillna(False).astype(bool)]
    if late.empty:
        return ctx.nothing(title, "supply-late-components", "Every planned purchase can arrive in time.", wide=True)
    late = late.sort_values(["days_late", "need_week_start", "component_sku"], ascending=[False, True, True])
    n_comp = late.component_sku.nunique()
    note = (
        f"{n_comp} component(s), {len(late)} planned order(s): the BOM explosion of the plan's make quantities needs "
        "them before the supplier's lead time allows, even if ordered today. Expedite, re-source, or move the "
        "parents' production (component_requirements and mrp_pegging name the parents)."
    )
    return panel(
        title, table(late, LATE_TABLE, cls="compact", max_rows=10), "supply-late-components", note=note, wide=True
    )


def cross_training(ctx: PackContext) -> Markup:
    title = "Labor constraint: cross-training plan"
    df = ctx.marts.read("cross_train_plan")
    if df.empty and ctx.marts.has("cross_train_plan"):
        return ctx.nothing(title, "supply-cross-training", "No cross-training needed this cycle.", wide=True)
    if df.empty:
        return ctx.missing(title, "supply-cross-training", "cross_train_plan", wide=True)
    return panel(
        title,
        auto_table(df, max_rows=8),
        "supply-cross-training",
        wide=True,
        note="If the bottleneck is labor: who to cross-train, on which resource, and the hours it unlocks.",
    )


def offloads(ctx: PackContext) -> Markup:
    """Work the plan moved from a full primary resource to an alternate (plan_offloads)."""
    title = "Alternate resources: work offloaded from full resources"
    cols = ("sku", "week_start", "from_resource_id", "to_resource_id", "units", "extra_cost")
    df = ctx.marts.read("plan_offloads", cols, optional=("from_hours", "to_hours"))
    if df.empty and ctx.marts.has("plan_offloads", *cols):
        return ctx.nothing(title, "supply-offloads", "No primary resource was full: nothing offloaded.", wide=True)
    if df.empty:
        return ctx.missing(title, "supply-offloads", "plan_offloads", cols, wide=True)
    df = df.sort_values(["week_start", "sku", "to_resource_id"], kind="stable")
    table_cols = [
        Col("week_start", "Week", date_text),
        Col("sku", "SKU"),
        Col("from_resource_id", "From"),
        Col("to_resource_id", "To"),
        ncol("units", "Units"),
        ncol("from_hours", "Hours saved on From"),
        ncol("to_hours", "Hours on To"),
        ncol("extra_cost", "Extra cost", money),
    ]
    note = (
        f"{len(df)} SKU-weeks, {num(df['units'].sum())} units made on an alternate for "
        f"{money(df['extra_cost'].sum())} extra; the decision log lists each (kind offload)."
    )
    return panel(title, table(df, table_cols, cls="compact", max_rows=10), "supply-offloads", wide=True, note=note)


# ---- service vs inventory ------------------------------------------------------------------------


def service_curve(ctx: PackContext) -> Markup:
    title = "Service vs inventory: pick the point together and log it"
    df = ctx.marts.read("safety_stock_curve", CURVE_COLS, optional=("annual_saving",))
    if df.empty:
        return ctx.missing(title, "supply-service-curve", "safety_stock_curve", CURVE_COLS, wide=True)
    df = df.assign(service_pct=as_percent(df.service_level), family=df.family.astype(str))
    df = df.sort_values(["family", "service_pct"])
    is_total = df.family.str.upper() == "TOTAL"
    total, families = df[is_total], df[~is_total]
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.1,
        subplot_titles=["All families (TOTAL)" if len(total) else "All families: no TOTAL row", "By family"],
    )
    _curve(fig, total, col=1, colors={"TOTAL": "#24292f"})
    _curve(fig, families, col=2, colors=dict(zip(sorted(families.family.unique()), COLORWAY)))
    fig.update_xaxes(title_text="target fill rate %")
    fig.update_yaxes(title_text="safety stock value", col=1)
    fig.update_layout(margin=dict(t=80), legend=dict(y=1.14))
    chart = ctx.chart("supply-service-curve", fig, height=420)
    note = (
        "Safety stock at cost per target fill rate. \u25cf today's targets, \u25c6 least holding + shortage "
        "cost (lost margin), proposed only when it saves a material amount a year, \u2605 the point the meeting "
        "chose (decision log). The TOTAL curve holds every family at the same target; the table's TOTAL row "
        "adds up the families' own points (a family without a proposal stays at today's)." + _seasonal_curve_note(ctx)
    )
    return panel(title, [chart, _curve_table(df)], "supply-service-curve", note=note, wide=True)


def _seasonal_curve_note(ctx: PackContext) -> str:
    """How today's point differs from the plan's safety stock (the inventory panel): the curve prices
    every item at its 156-week policy, the plan holds a seasonal SKU's season instead."""
    cols = ("sku", "safety_stock_basis", "safety_stock_value", "policy_safety_stock_value")
    inv = ctx.marts.read("datapack_inventory", cols)
    seasonal = inv[inv.safety_stock_basis == "season"] if not inv.empty else inv
    if seasonal.empty:
        return ""
    policy_value = float(seasonal.policy_safety_stock_value.sum())
    plan_value = float(seasonal.safety_stock_value.sum())
    skus = ", ".join(seasonal.sku.astype(str).head(3)) + (" ..." if len(seasonal) > 3 else "")
    return (
        f" Seasonal SKUs ({skus}) sit on the curve at their 156-week policy ({money(policy_value)} at cost "
        f"today); the plan holds their season's stock instead ({money(plan_value)} in week 1), so today's "
        f"point is {money(policy_value - plan_value)} above the inventory panel's safety stock."
    )


def _curve(fig: go.Figure, df: pd.DataFrame, col: int, colors: dict) -> None:
    for family, g in df.groupby("family", sort=True):
        color = colors.get(family, NEUTRAL)
        fig.add_trace(
            go.Scatter(
                x=g.service_pct,
                y=g.safety_stock_value,
                mode="lines",
                name=str(family),
                line=dict(width=3 if col == 1 else 2, color=color),
                legendgroup=str(family),
                showlegend=col == 2,
                hovertemplate=f"{family}<br>%{{x:.1f}}%: %{{y:,.0f}}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        for flag, (label, symbol) in CURVE_POINTS.items():
            points = g[_flag(g[flag])]
            fig.add_trace(
                go.Scatter(
                    x=points.service_pct,
                    y=points.safety_stock_value,
                    mode="markers",
                    name=label,
                    legendgroup=str(family),
                    showlegend=False,
                    marker=dict(
                        symbol=symbol,
                        size=15 if flag == "is_chosen" else 12,
                        color=color,
                        line=dict(width=1.5, color="white"),
                    ),
                    hovertemplate=f"{family} {label}<br>%{{x:.1f}}%: %{{y:,.0f}}<extra></extra>",
                ),
                row=1,
                col=col,
            )


def _flag(series: pd.Series) -> pd.Series:
    """A nullable boolean column as plain booleans (missing = False)."""
    return series.map(lambda v: truthy(v) is True).astype(bool)


def _curve_table(df: pd.DataFrame) -> Markup:
    """Per family: today's, proposed and chosen points (fill rate -> safety stock value); the TOTAL
    row adds up the families' rows (each family at its own point: the decisions on the list), not
    the TOTAL curve's single target for every family."""
    rows = []
    for family, g in df[df.family.str.upper() != "TOTAL"].groupby("family", sort=True):
        row = {"family": family}
        for flag in CURVE_POINTS:
            p = g[_flag(g[flag])]
            row[flag] = f"{pct(p.service_pct.iloc[0])} \u2192 {money(p.safety_stock_value.iloc[0])}" if len(p) else DASH
            row[f"{flag}_value"] = p.safety_stock_value.iloc[0] if len(p) else None
        row["delta"] = (
            None
            if row["is_proposed_value"] is None or row["is_current_value"] is None
            else row["is_proposed_value"] - row["is_current_value"]
        )
        proposed = g[_flag(g["is_proposed"])]
        row["saving"] = (
            float(proposed.annual_saving.iloc[0])
            if "annual_saving" in g and len(proposed) and pd.notna(proposed.annual_saving.iloc[0])
            else None
        )
        rows.append(row)
    out = pd.DataFrame(rows)
    if len(out):
        today = out.is_current_value.astype(float)
        with_proposals = out.is_proposed_value.astype(float).fillna(today)
        total = {
            "family": "TOTAL",
            "is_current": money(today.sum()) if today.notna().any() else DASH,
            "is_proposed": money(with_proposals.sum()) if out.is_proposed_value.notna().any() else DASH,
            "delta": float(out.delta.astype(float).sum()) if out.delta.notna().any() else None,
            "saving": float(out.saving.astype(float).sum()) if out.saving.notna().any() else None,
            "is_chosen": money(out.is_chosen_value.astype(float).fillna(today).sum())
            if out.is_chosen_value.notna().any()
            else DASH,
        }
        out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    out = out.assign(_total=out.family.str.upper() == "TOTAL")
    cols = [
        Col("family", "Family"),
        ncol("is_current", "Today", str),
        ncol("is_proposed", "Proposed (least cost)", str),
        ncol("delta", "Proposed - today", signed_money),
        ncol("saving", "Saves a year", money),
        ncol("is_chosen", "Chosen", str),
    ]
    return table(out, cols, cls="compact", row_cls=lambda r: "total" if r._total else "")


# ---- inventory ---------------------------------------------------------------------------------


def inventory_position(ctx: PackContext) -> Markup:
    title = "Inventory position by family"
    cols = ("family", "on_hand_value")
    extra = (
        "on_hand_units",
        "usable_units",
        "expired_units",
        "wip_units",
        "on_order_units",
        "safety_stock_value",
        "safety_stock_peak_value",
    )
    seasonal_cols = ("sku", "safety_stock_basis", "safety_stock_units", "safety_stock_peak_units")
    df = ctx.marts.read("datapack_inventory", cols, optional=extra + seasonal_cols)
    if df.empty:
        return ctx.missing(title, "supply-inventory", "datapack_inventory", cols)
    note = (
        "On hand, WIP and safety stock at unit cost; safety stock is the plan's week-1 target. Usable = "
        "available lots the plan can sell (not on hold, not expired before week 1); expired lots stay on "
        "hand, and in the value, until written off."
    )
    if "safety_stock_basis" in df and "sku" in df:
        seasonal = df[df.safety_stock_basis == "season"]
        if len(seasonal) and "safety_stock_peak_value" in df:
            n = len(seasonal)
            skus = ", ".join(seasonal.sku.astype(str).head(3)) + (" ..." if n > 3 else "")
            who, holds, peak = (
                (f"{n} seasonal SKUs", "hold", "each one's") if n > 1 else ("1 seasonal SKU", "holds", "its")
            )
            note += (
                f" {who} ({skus}) {holds} a safety stock that follows the season: "
                f"{_units_and_value(seasonal, 'safety_stock_units', 'safety_stock_value')} in week 1, "
                f"{_units_and_value(seasonal, 'safety_stock_peak_units', 'safety_stock_peak_value')} at {peak} peak."
            )
    fam = df.drop(columns=[*seasonal_cols, "safety_stock_peak_value"], errors="ignore")
    fam = fam.groupby("family", as_index=False).sum(numeric_only=True)
    fam = pd.concat([fam, fam.sum(numeric_only=True).to_frame().T.assign(family="All")], ignore_index=True)
    table_cols = [
        Col("family", "Family"),
        ncol("on_hand_units", "On hand units"),
        ncol("usable_units", "Usable units"),
        ncol("expired_units", "Expired units"),
        ncol("wip_units", "WIP units"),
        ncol("on_order_units", "On order units"),
        ncol("on_hand_value", "On hand value", money),
        ncol("safety_stock_value", "Safety stock value", money),
    ]
    return panel(
        title,
        table(fam, table_cols, cls="compact", row_cls=lambda r: "total" if r.family == "All" else ""),
        "supply-inventory",
        note=note,
    )


def eo(ctx: PackContext) -> Markup:
    title = "Pending excess & obsolete (E&O)"
    cols = ("sku", "value")
    df = ctx.marts.read("datapack_eo", cols, optional=("family", "excess_units", "obsolete_units", "reason"))
    df = df[df["value"].fillna(0) > 0] if not df.empty else df
    if df.empty and ctx.marts.has("datapack_eo", *cols):
        return ctx.nothing(title, "supply-eo", "No SKU has excess or obsolete stock this cycle.")
    if df.empty:
        return ctx.missing(title, "supply-eo", "datapack_eo", cols)
    df = df.sort_values("value", ascending=False)
    table_cols = [
        Col("sku", "SKU"),
        Col("family", "Family"),
        ncol("excess_units", "Excess units"),
        ncol("obsolete_units", "Obsolete units"),
        ncol("value", "Value", money),
        Col("reason", "Why"),
    ]
    note = f"{len(df)} SKUs, {money(df['value'].sum())} at cost; largest first."
    return panel(title, table(df, table_cols, cls="compact", max_rows=8), "supply-eo", note=note)


def aged_inventory(ctx: PackContext) -> Markup:
    title = "Aged inventory by family (value at cost)"
    cols = ("family", "bucket", "bucket_order", "value")
    df = ctx.marts.read("datapack_aged_inventory", cols)
    if df.empty:
        return ctx.missing(title, "supply-aged", "datapack_aged_inventory", cols, wide=True)
    buckets = df.drop_duplicates("bucket").sort_values("bucket_order")["bucket"].tolist()
    families = sorted(df.family.astype(str).unique(), reverse=True)
    fig = go.Figure()
    for i, bucket in enumerate(buckets):
        b = df[df.bucket == bucket].set_index("family").reindex(families)
        fig.add_trace(
            go.Bar(
                y=families,
                x=b["value"].fillna(0),
                name=f"{bucket} days",
                orientation="h",
                marker_color=AGE_COLORS[min(i, len(AGE_COLORS) - 1)],
            )
        )
    fig.update_layout(barmode="stack", xaxis_title="value at cost", legend_traceorder="normal")
    old = df[df.bucket_order >= df.bucket_order.max() - 1]["value"].sum()
    share = old / df["value"].sum() if df["value"].sum() else 0
    note = f"Value in the two oldest buckets ({', '.join(buckets[-2:])} days): {money(old)} ({share:.0%})."
    return panel(
        title, ctx.chart("supply-aged", fig, height=110 + 45 * len(families)), "supply-aged", note=note, wide=True
    )


def _units_and_value(rows: pd.DataFrame, units: str, value: str) -> str:
    """ "9 units (22 at cost)": a note's stock figure, units first when the mart has them."""
    if units not in rows:
        return money(rows[value].sum())
    return f"{num(rows[units].sum(), 0)} units ({money(rows[value].sum())} at cost)"
