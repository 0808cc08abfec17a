"""Risk board: early-warning signals from the data (supplier lead-time drift and OTIF decline,
route delays, asset downtime trend, open risk events), each with probability, impact $ from the
demand forecast and a mitigation; the top 5 by expected impact go on the board.

A DataFrame function around `analytics.risk`: the staged extracts and the forecast come in through
the warehouse IO manager; the signals are returned as `analytics.risk_signals`, published by the
dbt marts `risk_signals` / `datapack_risk_board`.
"""

import dagster as dg
import pandas as pd

from sop_pipeline.analytics import risk
from sop_pipeline.assets.common import absent_in, as_of_date, markdown_table, table_in, warehouse_asset
from sop_pipeline.resources import WAREHOUSE_POOL

SIGNALS = dg.AssetKey(["analytics", "risk_signals"])

# staged extract -> (staging model, columns the analytics read, renames to the analytics' names)
STAGED = {
    "purchase_orders": (
        "stg_erp__purchase_orders",
        ["po_id", "line", "supplier_id", "sku", "order_date", "promised_date", "qty"],
        {},
    ),
    "receipts": ("stg_erp__receipts", ["po_id", "line", "receipt_date", "qty"], {}),
    "suppliers": ("stg_erp__suppliers", ["supplier_id", "route"], {}),
    "downtime": (
        "stg_mes__downtime",
        ["resource_id", "start_at", "end_at", "is_planned"],
        {"start_at": "start", "end_at": "end", "is_planned": "planned"},
    ),
    "risk_events": (
        "stg_sop__risk_events",
        ["event_id", "event_date", "kind", "entity_id", "description"],
        {"event_date": "date"},
    ),
    "routings": ("stg_mes__routings", ["sku", "resource_id"], {}),
    "bom": ("stg_erp__bom", ["parent_sku", "component_sku"], {}),
    "resources": ("stg_mes__resources", ["resource_id", "hours_per_day", "days_per_week"], {}),
}


@dg.asset(
    key=SIGNALS,
    **warehouse_asset("risk"),
    pool=WAREHOUSE_POOL,
    ins={
        "cycle": table_in("meta", "cycle"),
        "ingest_log": table_in("meta", "ingest_log"),
        "forecast": table_in("analytics", "demand_forecast"),
        **{extract: table_in("staging", model) for extract, (model, _, _) in STAGED.items()},
    },
    description="Risk signals as of the cycle: one-sided CUSUM (k=0.5, h=5) and EWMA on supplier lead "
    "times vs their baseline, OTIF decline and route delays (recent 8 weeks vs the 52 before), "
    "unplanned-downtime trend per asset, open risk events of the last 4 weeks. Probability is a "
    "stated heuristic; impact = forecast revenue of the exposed SKUs over the exposure window.",
)
def risk_signals(
    cycle: pd.DataFrame,
    ingest_log: pd.DataFrame,
    forecast: pd.DataFrame,
    purchase_orders: pd.DataFrame,
    receipts: pd.DataFrame,
    suppliers: pd.DataFrame,
    downtime: pd.DataFrame,
    risk_events: pd.DataFrame,
    routings: pd.DataFrame,
    bom: pd.DataFrame,
    resources: pd.DataFrame,
):
    staged = {
        "purchase_orders": purchase_orders,
        "receipts": receipts,
        "suppliers": suppliers,
        "downtime": downtime,
        "risk_events": risk_events,
        "routings": routings,
        # BOM rows that ended before the as-of (retired versions) expose nothing (analytics.mrp)
        "bom": bom[
            pd.isna(bom["effective_to"]) | (pd.to_datetime(bom["effective_to"]) >= pd.Timestamp(as_of_date(cycle)))
        ],
        "resources": resources,
    }
    as_of = as_of_date(cycle)
    absent = absent_in(ingest_log)
    tables = {
        extract: None if extract in absent else staged[extract][columns].rename(columns=renames)
        for extract, (_, columns, renames) in STAGED.items()
    }
    purchase_orders, receipts, suppliers = tables["purchase_orders"], tables["receipts"], tables["suppliers"]
    po_lines = (
        risk.po_lines_as_of(purchase_orders, receipts, as_of)
        if purchase_orders is not None and receipts is not None
        else None
    )
    hours = None if tables["resources"] is None else risk.resource_hours_per_week(tables["resources"])
    exposure = risk.sku_exposure_map(purchase_orders, suppliers, tables["routings"], tables["bom"])
    signals = risk.risk_signals(
        as_of,
        po_lines=po_lines,
        suppliers=suppliers,
        downtime=tables["downtime"],
        risk_events=tables["risk_events"],
        forecast_revenue=forecast[["sku", "week_start", "revenue"]],
        sku_exposure=exposure,
        resource_hours_per_week=hours,
    )
    missing = sorted(absent & {"purchase_orders", "receipts", "suppliers", "downtime", "risk_events"})
    board = risk.risk_board(signals) if len(signals) else signals
    return dg.MaterializeResult(
        value=signals,
        metadata={
            "as_of": str(as_of),
            "signals_missing_input": ", ".join(missing) or "none",
            "board": dg.MetadataValue.md(
                markdown_table(
                    board[["rank", "kind", "entity_id", "signal", "probability", "expected_impact"]]
                    if len(board)
                    else board
                )
            ),
        },
    )


ASSETS = [risk_signals]
