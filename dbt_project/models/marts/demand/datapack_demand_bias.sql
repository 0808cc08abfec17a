-- Sales/marketing forecast bias per family and SKU over the last 13 snapshots, with the
-- sales_optimism flag and the latest submission's gap to the statistical forecast.
with

bias as (

    select * from {{ source('analytics', 'demand_bias') }}

),

final as (

    select
        level,
        family,
        sku,
        forecast_source,
        snapshots,
        cast(first_snapshot as date) as first_snapshot,
        cast(last_snapshot as date) as last_snapshot,
        forecast_units,
        actual_units,
        bias,
        tracking_signal,
        sales_optimism,
        latest_sales_units_13w,
        statistical_units_13w,
        latest_gap_to_statistical,
        reason
    from bias

)

select * from final
