"""Agenda item 1, "Last month in a meme" (10 min): KPI tiles, alerts, the monthly scorecard."""

from __future__ import annotations

import pandas as pd

from markupsafe import Markup

from sop_pipeline.report.components import badge, panel, tile, tiles
from sop_pipeline.report.context import PackContext
from sop_pipeline.report.format import DASH, by_unit, is_missing, plain_unit, text, tone, truthy
from sop_pipeline.report.templating import macros

KPI_LABELS = {
    "otif_pct": "OTIF (by promised date)",
    "fill_rate_pct": "Fill rate (lines, by requested date)",
    "a_item_stockouts": "A-item stockouts",
    "schedule_adherence_pct": "Schedule adherence",
    "reschedules_per_week": "Reschedules / week",
    "scrap_pct": "Scrap",
    "oee_constraint_pct": "OEE on declared constraint",
    "oee_bottleneck_pct": "OEE on measured bottleneck",
    "expedite_usd": "Expedite $",
    "inventory_turns": "Inventory turns",
    "revenue": "Revenue",
    "revenue_vs_plan_pct": "Revenue vs plan",
    "changeover_vs_plan_pct": "Changeover hours vs plan",
    "changeover_hours_vs_plan_pct": "Changeover hours vs plan",
    "eo_value": "E&O value",
}
UNIT_SHORT = {"turns/year": "turns/yr", "count/week": "/wk"}
AREA_ORDER = ["service", "stability", "efficiency", "cash", "finance"]
TILE_COLUMNS = ("kpi", "value", "prior_month_value", "target", "unit", "trend", "trend_is_good", "on_target")


def kpi_label(kpi) -> str:
    return KPI_LABELS.get(str(kpi), str(kpi).replace("_", " ").capitalize())


def build(ctx: PackContext) -> list[Markup]:
    return [ctx.render(kpi_tiles), ctx.render(alerts), ctx.render(scorecard)]


def kpi_tiles(ctx: PackContext) -> Markup:
    title = "Last month's KPIs"
    df = ctx.marts.read("kpi_last_month", TILE_COLUMNS, optional=("area", "month_start"))
    if df.empty:
        return ctx.missing(title, "kpi-tiles", "kpi_last_month", TILE_COLUMNS, wide=True)
    if "area" in df:
        df = df.assign(_order=df["area"].map({a: i for i, a in enumerate(AREA_ORDER)}).fillna(99)).sort_values(
            "_order", kind="stable"
        )
    month = df["month_start"].iloc[0] if "month_start" in df else None
    note = (
        f"Month {pd.Timestamp(month):%B %Y}. " if not is_missing(month) else ""
    ) + "Arrow = direction vs the prior month, green when that direction is good; tile colour = on/off target."
    return panel(title, tiles(_tile(row) for _, row in df.iterrows()), "kpi-tiles", note=note, wide=True)


def _tile(row: pd.Series) -> Markup:
    unit = row["unit"]
    on_target = truthy(row["on_target"])
    status = {True: badge("on target", "good"), False: badge("off target", "bad"), None: badge("no target", "neutral")}
    target = "no target" if is_missing(row["target"]) else f"target {by_unit(row['target'], unit, with_unit=False)}"
    lines = [status[on_target], f"{target} \u00b7 prior {by_unit(row['prior_month_value'], unit, with_unit=False)}"]
    short_unit = UNIT_SHORT.get(plain_unit(unit), plain_unit(unit))
    return tile(
        kpi_label(row["kpi"]),
        by_unit(row["value"], unit, with_unit=False),
        lines,
        tone_cls=tone(on_target),
        unit=short_unit,
        trend=None if is_missing(row["trend"]) else str(row["trend"]),
        trend_tone=tone(truthy(row["trend_is_good"])),
        tile_id=f"kpi-{row['kpi']}",
    )


def alerts(ctx: PackContext) -> Markup:
    title = "Alerts: service low & inventory high"
    df = ctx.marts.read("kpi_alerts", ("alert", "subject", "severity", "message"))
    if df.empty and not ctx.marts.has("kpi_alerts", "alert", "message"):
        return ctx.missing(title, "kpi-alerts", "kpi_alerts", ("alert", "subject", "severity", "message"))
    theater = df[df["alert"] == "service_low_inventory_high"]
    others = df[df["alert"] != "service_low_inventory_high"]
    others = [
        {
            "severity": str(r.severity),
            "tone": "bad" if str(r.severity) == "high" else "warn",
            "message": text(r.message),
        }
        for r in others.itertuples()
    ]
    body = macros("last_month.html.j2").alerts([text(m) for m in theater["message"]], others)
    return panel(title, body, "kpi-alerts", wide=True)


def scorecard(ctx: PackContext) -> Markup:
    title = "Scorecard: the last 6 months"
    months_shown = 6
    cols = ("grain", "period_start", "area", "kpi", "value", "unit", "on_target")
    df = ctx.marts.read("kpi_scorecard", cols, optional=("subject",), where="grain = 'month'")
    if df.empty:
        return ctx.missing(title, "kpi-scorecard", "kpi_scorecard", cols)
    months = sorted(df["period_start"].unique())[-months_shown:]
    df = df[df["period_start"].isin(months)]
    rows = []
    for (area, kpi), g in sorted(df.groupby(["area", "kpi"]), key=lambda kv: (_area_rank(kv[0][0]), kv[0][1])):
        by_month = g.set_index("period_start")
        cells = [_score_cell(by_month.loc[m] if m in by_month.index else None) for m in months]
        unit = plain_unit(g["unit"].iloc[0])
        label = kpi_label(kpi) + (f" ({unit})" if unit else "")
        subject = g["subject"].dropna() if "subject" in g else g["kpi"].iloc[0:0]
        rows.append(
            {"kpi": str(kpi), "label": label, "subject": str(subject.iloc[0]) if len(subject) else None, "cells": cells}
        )
    body = macros("last_month.html.j2").scorecard([f"{pd.Timestamp(m):%b %y}" for m in months], rows)
    return panel(
        title, body, "kpi-scorecard", note="Green = on target, red = off target, no colour = no target.", wide=True
    )


def _area_rank(area) -> int:
    return AREA_ORDER.index(area) if area in AREA_ORDER else len(AREA_ORDER)


def _score_cell(row: pd.Series | None) -> dict:
    """A month's value and its cell class (coloured by on/off target)."""
    if row is None or is_missing(row["value"]):
        return {"value": DASH, "cls": "num"}
    return {
        "value": by_unit(row["value"], row["unit"], with_unit=False),
        "cls": f"num cell-{tone(truthy(row['on_target']))}",
    }
