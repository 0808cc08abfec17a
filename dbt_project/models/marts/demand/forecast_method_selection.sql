-- Method selection by measured error: the method each SKU x location series uses this cycle and
-- every candidate's rolling-origin backtest WAPE (sop_pipeline/analytics/methods.py).
with

selection as (

    select * from {{ source('analytics', 'forecast_method_selection') }}

),

final as (

    select
        cast(cycle_id as date) as cycle_id,
        sku,
        location,
        method,
        wape,
        intermittency,
        backtest_rows,
        actual_units,
        wape_lightgbm,
        wape_seasonal_naive,
        wape_exp_smoothing,
        wape_tsb,
        wape_combination,
        wape_theta,
        wape_croston_sba,
        wape_adida,
        wape_combination_intermittent,
        wape_theta_seasonal,
        wape_damped_trend,
        wape_ses_seasonal,
        wape_combination_median,
        wape_seasonal_naive_trend,
        wape_combination_trend,
        default_method,
        margin
    from selection

)

select * from final
