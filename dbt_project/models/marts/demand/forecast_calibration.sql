-- Calibrated p10/p90: scaled backtest residual quantiles per horizon bucket x intermittency class
-- and the coverage they achieved forward (sop_pipeline/analytics/methods.py).
with

calibration as (

    select * from {{ source('analytics', 'forecast_calibration') }}

),

final as (

    select
        cast(cycle_id as date) as cycle_id,
        horizon_bucket,
        intermittency,
        q_low,
        q_high,
        rows,
        share_below_p10,
        share_above_p90,
        band_coverage
    from calibration

)

select * from final
