"""Finance bridge: price-volume-mix (vs plan and vs prior month), margin, working capital.

DataFrame functions around `analytics.finance` (with `analytics.pvm` / `analytics.cash`): the dbt
staging and intermediate models come in through the warehouse IO manager, the results are returned
as `analytics.<table>`; the dbt marts `datapack_finance_pvm`, `datapack_margin` and `datapack_cash`
publish them.
"""

import dagster as dg
import pandas as pd

from sop_pipeline.analytics import finance
from sop_pipeline.assets.common import as_of_date, markdown_table, table_in, warehouse_asset
from sop_pipeline.resources import WAREHOUSE_POOL

CYCLE = table_in("meta", "cycle")
SALES = table_in("intermediate", "int_sales_daily")
ITEMS = table_in("staging", "stg_erp__items")
PVM = dg.AssetKey(["analytics", "finance_pvm"])
last_complete_month = finance.last_complete_month


@dg.asset(
    key=PVM,
    **warehouse_asset("finance"),
    pool=WAREHOUSE_POOL,
    ins={"cycle": CYCLE, "sales_daily": SALES, "revenue_plan": table_in("staging", "stg_finance__revenue_plan")},
    deps=[dg.AssetKey(["staging", "stg_erp__items"])],
    description="Price-volume-mix bridge of the last complete month: actual vs finance's revenue plan "
    "(family grain, the plan's grain) and vs the prior month (SKU grain within each family). "
    "Effects add up exactly to the revenue difference at every level.",
    check_specs=[
        dg.AssetCheckSpec(
            "effects_add_up", asset=PVM, description="price + volume + mix = actual - base revenue on every row."
        )
    ],
)
def finance_pvm(cycle: pd.DataFrame, sales_daily: pd.DataFrame, revenue_plan: pd.DataFrame):
    as_of = as_of_date(cycle)
    bridge, has_plan = finance.pvm_month_bridge(sales_daily, revenue_plan, as_of)
    residual = (bridge.price_effect + bridge.volume_effect + bridge.mix_effect - bridge.total_difference).abs()
    gap = (bridge.revenue_actual - bridge.revenue_base - bridge.total_difference).abs()
    total = bridge[bridge.level == "total"]
    return dg.MaterializeResult(
        value=bridge,
        metadata={
            "month": str(last_complete_month(as_of)),
            "notes": "no revenue plan for the month" if not has_plan else "",
            "total_bridge": dg.MetadataValue.md(markdown_table(total)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="effects_add_up",
                passed=bool((residual.fillna(0) < 1e-6).all() and (gap < 1e-6).all()),
                metadata={"max_residual": float(residual.max()) if len(residual) else 0.0},
            )
        ],
    )


@dg.asset(
    key=["analytics", "finance_margin"],
    **warehouse_asset("finance"),
    pool=WAREHOUSE_POOL,
    ins={"cycle": CYCLE, "sales_daily": SALES, "items": ITEMS},
    description="Gross margin $ and % by family for the last complete month and the 12 months to it "
    "(revenue - units x unit cost).",
)
def finance_margin(cycle: pd.DataFrame, sales_daily: pd.DataFrame, items: pd.DataFrame):
    as_of = as_of_date(cycle)
    margin = finance.margin_periods(sales_daily, items, as_of)
    return dg.MaterializeResult(value=margin, metadata={"month": str(last_complete_month(as_of))})


@dg.asset(
    key=["analytics", "finance_cash"],
    **warehouse_asset("finance"),
    pool=WAREHOUSE_POOL,
    ins={
        "cycle": CYCLE,
        "sales_daily": SALES,
        "inventory_snapshots": table_in("intermediate", "int_inventory_snapshots"),
        "ar_items": table_in("staging", "stg_finance__ar_items"),
        "ap_items": table_in("staging", "stg_finance__ap_items"),
    },
    description="Working capital at the as-of date and one month earlier: AR, AP, inventory at cost, "
    "DSO (AR / B2B revenue of 90 days x 90), DPO (AP / COGS x 90), DIO (365 / turns), cash "
    "conversion cycle and the cash tied up by the change.",
)
def finance_cash(
    cycle: pd.DataFrame,
    sales_daily: pd.DataFrame,
    inventory_snapshots: pd.DataFrame,
    ar_items: pd.DataFrame,
    ap_items: pd.DataFrame,
):
    as_of = as_of_date(cycle)
    wc = finance.working_capital_now(ar_items, ap_items, inventory_snapshots, sales_daily, as_of)
    return dg.MaterializeResult(
        value=wc, metadata={"as_of": str(as_of), "working_capital": dg.MetadataValue.md(markdown_table(wc))}
    )


@dg.asset(
    key=["analytics", "finance_cash_projection"],
    **warehouse_asset("finance"),
    pool=WAREHOUSE_POOL,
    ins={
        "cycle": CYCLE,
        "plan_of_record": table_in("analytics", "plan_of_record"),
        "finance_cash": table_in("analytics", "finance_cash"),
        "sales_daily": SALES,
        "items": ITEMS,
        "usable_stock": table_in("intermediate", "int_usable_stock"),
    },
    description="Working capital over the plan's 13 weeks with today's DSO and DPO held: AR = invoiced "
    "(B2B share of planned) revenue of the last DSO days, AP = planned COGS of the last DPO days, "
    "inventory = the plan's projected (usable) inventory at cost, against the usable stock at the "
    "as-of: lots on hold and expired lots (an E&O write-off) move no cash; cash tied up week by "
    "week vs the as-of balances.",
)
def finance_cash_projection(
    cycle: pd.DataFrame,
    plan_of_record: pd.DataFrame,
    finance_cash: pd.DataFrame,
    sales_daily: pd.DataFrame,
    items: pd.DataFrame,
    usable_stock: pd.DataFrame,
):
    projection, ok = finance.cash_projection(
        finance_cash, plan_of_record, sales_daily, items, usable_stock, as_of_date(cycle)
    )
    total = float(projection.cash_tied_up.sum()) if len(projection) else 0.0
    return dg.MaterializeResult(
        value=projection,
        metadata={
            "cash_tied_up_13w": round(total, 2),
            "notes": "" if ok else "no data: DSO/DPO or the plan are missing (no AR/AP or sales orders)",
        },
    )


ASSETS = [finance_pvm, finance_margin, finance_cash, finance_cash_projection]
