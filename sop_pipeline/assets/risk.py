"""Risk board: early-warning signals from the data (supplier lead-time drift and OTIF decline,
route delays, asset downtime trend, open risk events), each with probability, impact $ from the
demand forecast and a mitigation; the top 5 by expected impact go on the board.

Thin wrapper around `analytics.risk`; outputs `analytics.risk_signals` and the dbt marts
`risk_signals` / `datapack_risk_board`.
"""

import dagster as dg

from sop_pipeline.analytics import risk
from sop_pipeline.assets.common import OWNERS, absent_extracts, cycle_as_of, markdown_table, read_table, write_table
from sop_pipeline.resources import WAREHOUSE_POOL, Warehouse

STG = lambda name: dg.AssetKey(["staging", name])  # noqa: E731
FORECAST = dg.AssetKey(["analytics", "demand_forecast"])
SIGNALS = dg.AssetKey(["analytics", "risk_signals"])


@dg.asset(
    key=SIGNALS, group_name="risk", kinds={"python", "duckdb"}, pool=WAREHOUSE_POOL, owners=OWNERS["risk"],
    deps=[FORECAST, dg.AssetKey(["meta", "ingest_log"])] + [STG(n) for n in (
        "stg_erp__purchase_orders", "stg_erp__receipts", "stg_erp__suppliers", "stg_mes__downtime",
        "stg_sop__risk_events", "stg_mes__routings", "stg_erp__bom", "stg_mes__resources")],
    description="Risk signals as of the cycle: one-sided CUSUM (k=0.5, h=5) and EWMA on supplier lead "
                "times vs their baseline, OTIF decline and route delays (recent 8 weeks vs the 52 before), "
                "unplanned-downtime trend per asset, open risk events of the last 4 weeks. Probability is a "
                "stated heuristic; impact = forecast revenue of the exposed SKUs over the exposure window.",
)
def risk_signals(warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        as_of = cycle_as_of(con)
        absent = absent_extracts(con)

        def table(extract: str, sql: str):
            return None if extract in absent else read_table(con, sql)

        purchase_orders = table("purchase_orders", "select po_id, line, supplier_id, sku, order_date, "
                                                   "promised_date, qty from staging.stg_erp__purchase_orders")
        receipts = table("receipts", "select po_id, line, receipt_date, qty from staging.stg_erp__receipts")
        po_lines = (risk.po_lines_as_of(purchase_orders, receipts, as_of)
                    if purchase_orders is not None and receipts is not None else None)
        suppliers = table("suppliers", "select supplier_id, route from staging.stg_erp__suppliers")
        downtime = table("downtime", "select resource_id, start_at as start, end_at as \"end\", "
                                     "is_planned as planned from staging.stg_mes__downtime")
        events = table("risk_events", "select event_id, event_date as date, kind, entity_id, description "
                                      "from staging.stg_sop__risk_events")
        routings = table("routings", "select sku, resource_id from staging.stg_mes__routings")
        bom = table("bom", "select parent_sku, component_sku from staging.stg_erp__bom")
        hours = table("resources", "select resource_id, hours_per_day * days_per_week as hours_per_week "
                                   "from staging.stg_mes__resources")
        forecast = read_table(con, "select sku, week_start, revenue from analytics.demand_forecast")
        exposure = risk.sku_exposure_map(purchase_orders, suppliers, routings, bom)
        signals = risk.risk_signals(as_of, po_lines=po_lines, suppliers=suppliers, downtime=downtime,
                                    risk_events=events, forecast_revenue=forecast, sku_exposure=exposure,
                                    resource_hours_per_week=hours)
        meta = write_table(con, "risk_signals", signals)
    missing = sorted(absent & {"purchase_orders", "receipts", "suppliers", "downtime", "risk_events"})
    board = risk.risk_board(signals) if len(signals) else signals
    return dg.MaterializeResult(metadata={
        **meta, "as_of": str(as_of), "signals_missing_input": ", ".join(missing) or "none",
        "board": dg.MetadataValue.md(markdown_table(board[["rank", "kind", "entity_id", "signal", "probability",
                                                           "expected_impact"]] if len(board) else board)),
    })


ASSETS = [risk_signals]
