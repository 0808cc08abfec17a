"""Demand review panel: the planners' forecast overrides this cycle and how booked orders consumed
the forecast (marts `forecast_overrides` and `forecast_consumption`)."""

from __future__ import annotations

import pandas as pd

from markupsafe import Markup

from sop_pipeline.report.components import Col, ncol, panel, table
from sop_pipeline.report.context import PackContext
from sop_pipeline.report.format import date_text, num, signed_num

OVERRIDE_COLS = ("override_id", "level", "status", "delta_units")
OVERRIDE_EXTRA = ("key", "week_from", "week_to", "mode", "value", "profile", "author", "sku_weeks", "note")
CONSUMPTION_COLS = ("sku", "week_start", "forecast_units", "booked_units", "consumed_units", "planned_demand_units")
CONSUMPTION_EXTRA = ("unconsumed_units", "backward_days", "forward_days")


def _change(r: pd.Series) -> str:
    if r.get("mode") == "pct":
        return f"{float(r['value']):+g} %"
    return f"{num(r.get('value'))} units/wk"


def overrides_and_consumption(ctx: PackContext) -> Markup:
    title = "Forecast overrides and booked orders"
    ov = ctx.marts.read("forecast_overrides", OVERRIDE_COLS, optional=OVERRIDE_EXTRA)
    cons = ctx.marts.read("forecast_consumption", CONSUMPTION_COLS, optional=CONSUMPTION_EXTRA)
    if ov.empty and cons.empty:
        return ctx.missing(title, "demand-overrides", "forecast_consumption", CONSUMPTION_COLS, wide=True)
    body: list = []
    if not ov.empty:
        ov = ov.assign(
            subject=[
                f"{lv}:{k}" if lv != "total" and isinstance(k, str) and k else str(lv)
                for lv, k in zip(ov["level"], ov.get("key", ov["level"]))
            ],
            change=[_change(r) for _, r in ov.iterrows()],
            spread=[p if lv != "sku" else "" for lv, p in zip(ov["level"], ov.get("profile", ov["level"]))],
            weeks=[f"{date_text(a)}..{date_text(b)}" for a, b in zip(ov.get("week_from", []), ov.get("week_to", []))]
            if "week_from" in ov
            else "",
        ).sort_values("override_id", kind="stable")
        cols = [
            Col("override_id", "Override"),
            Col("subject", "Level:key"),
            Col("weeks", "Weeks"),
            Col("change", "Change"),
            Col("spread", "Spread by"),
            Col("status", "Status"),
            ncol("delta_units", "Consensus change", signed_num),
            Col("author", "Author"),
        ]
        body.append(table(ov, [c for c in cols if c.key in ov], cls="compact"))
    else:
        body.append("No forecast overrides this cycle.")
    if not cons.empty:
        over = cons[cons.planned_demand_units > cons.forecast_units + 0.5]
        window = (
            f" (window {int(cons.backward_days.iloc[0])} days back, {int(cons.forward_days.iloc[0])} forward)"
            if "backward_days" in cons and cons.backward_days.notna().any()
            else ""
        )
        body.append(
            f"Booked orders in the horizon: {num(cons.booked_units.sum())} units, of which "
            f"{num(cons.consumed_units.sum())} consumed forecast{window}; "
            f"{num(cons.get('unconsumed_units', pd.Series(dtype=float)).sum())} units are booked above the forecast "
            f"inside their window and the plan adds them; the plan is above the week's forecast in {len(over)} "
            "SKU-week(s)."
        )
    applied = int((ov["status"] == "applied").sum()) if not ov.empty else 0
    note = (
        f"{applied} override(s) applied (lower level first; a family/total override is spread over its other SKUs). "
        "Unapproved overrides are listed, not applied. The plan plans remaining forecast + booked orders."
    )
    return panel(title, body, "demand-overrides", note=note, wide=True)


# ---- forecast value added ------------------------------------------------------------------------

FVA_COLS = ("family", "lag_bucket", "step", "status", "wape_pct", "fva_points")
FVA_EXTRA = (
    "step_order",
    "lag_from",
    "reason",
    "bias_pct",
    "compared_with",
    "fva_vs_naive_points",
    "verdict",
    "sku_weeks",
)
STEP_NAMES = {
    "naive": "Seasonal naive",
    "statistical": "Statistical",
    "sales_input": "Sales input",
    "override": "Override",
    "consensus": "Consensus",
}


def fva_rows(fva: pd.DataFrame) -> pd.DataFrame:
    """The scored steps that compare with an earlier one, worst value destroyed first (lowest FVA)."""
    scored = fva[(fva.status == "scored") & fva.fva_points.notna()]
    return scored.sort_values(["fva_points", "family", "lag_bucket"], kind="stable", ignore_index=True)


def forecast_value_added(ctx: PackContext) -> Markup:
    title = "Forecast value added: does each step improve the forecast?"
    fva = ctx.marts.read("forecast_value_added", FVA_COLS, optional=FVA_EXTRA)
    if fva.empty:
        return ctx.missing(title, "demand-fva", "forecast_value_added", FVA_COLS, wide=True)
    rows = fva_rows(fva)
    body: list = []
    worst = rows.iloc[0] if len(rows) and rows.fva_points.iloc[0] < 0 else None
    if worst is not None:
        body.append(
            f"Worst: {STEP_NAMES.get(worst.step, worst.step)} in {worst.family}, lag {worst.lag_bucket}, "
            f"{float(worst.fva_points):+.1f} points of WAPE against "
            f"{STEP_NAMES.get(worst.get('compared_with', ''), worst.get('compared_with', 'the step before'))}."
        )
    shown = rows.assign(
        step_name=rows.step.map(STEP_NAMES).fillna(rows.step),
        before=rows.get("compared_with", pd.Series("", index=rows.index)).map(STEP_NAMES).fillna(""),
    )
    cols = [
        Col("family", "Family"),
        Col("lag_bucket", "Lag (weeks)"),
        Col("step_name", "Step"),
        Col("before", "Compared with"),
        ncol("wape_pct", "WAPE %", lambda v: num(v, 1)),
        ncol("bias_pct", "Bias %", lambda v: signed_num(v, 1)),
        ncol("fva_points", "FVA (pts)", lambda v: signed_num(v, 1)),
        Col("verdict", "Value"),
    ]
    body.append(table(shown, [c for c in cols if c.key in shown], cls="compact", max_rows=15))
    missing = fva[fva.status == "missing"]
    if len(missing):
        by_step = missing.groupby("step").size()
        body.append(
            "Not scored (no history there, shown as missing rather than zero): "
            + ", ".join(f"{STEP_NAMES.get(s, s)} in {n} family/lag group(s)" for s, n in by_step.items())
            + "."
        )
    destroyed = int((rows.fva_points < -0.05).sum())
    note = (
        "FVA = WAPE of the step it builds on - WAPE of the step, on the same SKU-weeks of the backtest (26 weekly "
        "origins): naive = seasonal naive; sales input and override (statistical + the approved overrides known at "
        "each origin) build on statistical, consensus (that cycle's plan of record) on override. "
        f"{destroyed} step(s) destroyed value; worst first."
    )
    return panel(title, body, "demand-fva", note=note, wide=True)
