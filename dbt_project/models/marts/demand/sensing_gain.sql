-- Learned sensing vs the booking-curve rule per lag 1-6 (sop_pipeline/analytics/sensing_model.py):
-- backtest WAPE of statistical, rule and learned on the same rolling-origin SKU-weeks, the method
-- the cycle uses at that lag and its gain in WAPE points.
with

gain as (

    select * from {{ source('analytics', 'sensing_gain') }}

),

final as (

    select
        cast(cycle_id as date) as cycle_id,
        cast(lag as integer) as lag,
        wape_statistical,
        wape_rule,
        wape_learned,
        chosen,
        gain_points,
        chosen_gain_vs_statistical_points,
        cast(n as integer) as n,
        cast(origins as integer) as origins,
        actual_units
    from gain

)

select * from final
