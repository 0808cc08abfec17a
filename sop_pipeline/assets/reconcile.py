"""Plan of record vs finance: the reconciliation of agenda item 4 (issue #8).

A DataFrame function around `analytics.reconcile`: the plan of record's revenue, units and margin
put on finance's calendar months by days and bridged (price-volume-mix, the finance bridge's
definitions) to finance's revenue plan pro-rated to the horizon's days; and control totals proving
that the plan's revenue, margin and inventory at cost are the same numbers in the family roll-up
(`reconcile.family_rollup`, the rule of mart plan_of_record_family, computed here from the plan so
no mart feeds Python) and the cash projection. The plan, the item master, finance's revenue plan
and the cash projection come in through the warehouse IO manager; `analytics.plan_reconciliation`
and `analytics.plan_reconciliation_controls` are returned, published by the dbt marts of the same
names. Both checks are blocking: a bridge or a cash projection that does not close stops the cycle
before the marts and publish.
"""

import dagster as dg
import pandas as pd

from sop_pipeline.analytics import reconcile
from sop_pipeline.assets.common import absent_in, markdown_table, table_in, warehouse_asset
from sop_pipeline.resources import WAREHOUSE_POOL

RECONCILIATION = dg.AssetKey(["analytics", "plan_reconciliation"])
CONTROLS = dg.AssetKey(["analytics", "plan_reconciliation_controls"])
# parameter name -> asset key [schema, table] of every input the reconciliation reads
INPUT_TABLES = {
    "plan_of_record": ("analytics", "plan_of_record"),
    "cash_projection": ("analytics", "finance_cash_projection"),
    "revenue_plan": ("staging", "stg_finance__revenue_plan"),
    "items": ("staging", "stg_erp__items"),
    "ingest_log": ("meta", "ingest_log"),
}
COMMON = warehouse_asset("finance")


@dg.multi_asset(
    name="plan_reconciliation",
    outs={
        "plan_reconciliation": dg.AssetOut(
            key=RECONCILIATION,
            **COMMON,
            description=(
                "Plan of record vs finance's revenue plan, per family, by calendar month and over the 13-week "
                "horizon: the plan's weeks split into months by days, finance's months pro-rated to the days the "
                "horizon covers, and plan of record - finance plan revenue decomposed into price, volume and mix "
                "(the finance bridge's definitions; they add up exactly)."
            ),
        ),
        "plan_reconciliation_controls": dg.AssetOut(
            key=CONTROLS,
            **COMMON,
            description=(
                "Control totals: the plan of record's units, revenue, margin, net margin, COGS and inventory at "
                "cost at the horizon end next to the same figures in plan_reconciliation, the family roll-up "
                "(plan_of_record_family's rule) and finance_cash_projection (difference should be 0: no leakage)."
            ),
        ),
    },
    ins={name: table_in(*key) for name, key in INPUT_TABLES.items()},
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "plan_revenue_reconciles_with_finance_bridge",
            asset=RECONCILIATION,
            blocking=True,
            description=(
                "Price + volume + mix add up exactly to plan of record - finance plan revenue on every row, the "
                "families add up to the total, and the plan-of-record units, revenue, margin and net margin the "
                "reconciliation (and the family roll-up) use equal analytics.plan_of_record's totals. A failure means the "
                "meeting would argue about a bridge that does not close."
            ),
        ),
        dg.AssetCheckSpec(
            "working_capital_reconciles",
            asset=RECONCILIATION,
            blocking=True,
            description=(
                "The cash projection's inventory at cost in the last horizon week equals the plan of record's "
                "projected inventory at cost (tolerance 0.01), and its COGS equals the plan's revenue - margin. "
                "A failure means the cash impact is not computed from the plan of record."
            ),
        ),
    ],
)
def plan_reconciliation(
    plan_of_record: pd.DataFrame,
    cash_projection: pd.DataFrame,
    revenue_plan: pd.DataFrame,
    items: pd.DataFrame,
    ingest_log: pd.DataFrame,
):
    absent = absent_in(ingest_log)
    plan, costs, finance_months, cash = reconcile.reconciliation_inputs(
        plan_of_record, items, revenue_plan, cash_projection
    )
    rollup = reconcile.family_rollup(plan)
    bridge = reconcile.plan_vs_finance(plan, finance_months)
    controls = reconcile.control_totals(plan, costs, reconciliation=bridge, family_rollup=rollup, cash_projection=cash)

    note = reconcile.no_data_note(bridge, plan, "revenue_plan" in absent)
    horizon = bridge[(bridge.period == "horizon") & (bridge.level == "total")]
    figures = {}
    if len(horizon):
        row = horizon.iloc[0]
        figures = {
            f"horizon_{c}": round(float(row[c]), 2)
            for c in (
                "revenue_plan_of_record",
                "revenue_finance_plan",
                "price_effect",
                "volume_effect",
                "mix_effect",
                "total_difference",
            )
        }
        figures["days_compared"] = f"{int(row.days_covered)} of {int(row.days_in_period)}"
        uncovered = bridge[(bridge.period == "month") & ~bridge.finance_plan_covered.astype(bool)]
        if len(uncovered):
            note = "not compared (no finance plan for the month): " + ", ".join(
                f"{m:%Y-%m}" for m in sorted(pd.to_datetime(uncovered.period_start.unique()))
            )
    inventory = controls[controls.measure == "inventory_value_horizon_end"].iloc[0]
    yield dg.Output(
        bridge,
        output_name="plan_reconciliation",
        metadata={
            **figures,
            "notes": note,
            "horizon_by_family": dg.MetadataValue.md(
                markdown_table(
                    bridge[bridge.period == "horizon"][
                        [
                            "family",
                            "revenue_finance_plan",
                            "price_effect",
                            "volume_effect",
                            "mix_effect",
                            "revenue_plan_of_record",
                            "margin_plan_of_record",
                            "net_margin_plan_of_record",
                        ]
                    ],
                    20,
                )
            ),
        },
    )
    yield dg.Output(
        controls,
        output_name="plan_reconciliation_controls",
        metadata={
            "inventory_value_horizon_end": round(float(inventory.plan_of_record_value), 2),
            "controls": dg.MetadataValue.md(markdown_table(controls, 20)),
        },
    )

    residual = max(reconcile.bridge_residual(bridge), reconcile.family_rows_residual(bridge))
    totals = controls[controls.downstream.isin(["plan_reconciliation", "plan_of_record_family"])]
    yield _check_result("plan_revenue_reconciles_with_finance_bridge", totals, residual, note if bridge.empty else "")
    wc = controls[controls.downstream == "finance_cash_projection"]
    yield _check_result("working_capital_reconciles", wc, 0.0, "")


def _check_result(name: str, controls: pd.DataFrame, residual: float, note: str) -> dg.AssetCheckResult:
    """Passed when every control with data reconciles and the bridge residual is below 1e-6;
    controls without data (an absent source) pass with their "no data" note."""
    failed = controls[controls.reconciles.notna() & ~controls.reconciles.fillna(True).astype(bool)]
    skipped = controls[controls.reconciles.isna()]
    notes = [n for n in [note, *skipped.notes.unique()] if n]
    return dg.AssetCheckResult(
        asset_key=RECONCILIATION,
        check_name=name,
        passed=bool(failed.empty and residual < 1e-6),
        metadata={
            "max_bridge_residual": float(residual),
            "max_abs_difference": float(controls.difference.abs().max()) if controls.difference.notna().any() else 0.0,
            "failed": ", ".join(f"{r.measure} vs {r.downstream}" for r in failed.itertuples()) or "none",
            "notes": "; ".join(dict.fromkeys(notes)),
        },
    )


ASSETS = [plan_reconciliation]
