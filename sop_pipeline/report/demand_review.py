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
