-- Forecast value added: each step of the forecast process (seasonal naive, statistical, sales input,
-- override, consensus) by family and lag bucket, its WAPE and bias on the same SKU-weeks, and
-- FVA = WAPE of the step before - its own WAPE (points; > 0 the step added value). Computed by
-- sop_pipeline/analytics/fva.py from the backtest, the forecast overrides and the plan history.
select
    cast(cycle_id as date) as cycle_id,
    family,
    lag_bucket,
    lag_from,
    lag_to,
    step_order,
    step,
    source,
    status,
    reason,
    sku_weeks,
    origins,
    actual_units,
    forecast_units,
    abs_error_units,
    wape_pct,
    bias_pct,
    compared_with,
    fva_points,
    fva_vs_naive_points,
    verdict
from {{ source('demand_review_outputs', 'forecast_value_added') }}
