-- The data pack's 13-week rolling forecast per SKU: statistical quantiles, revenue and the
-- sensed units of weeks 1-6 (equal to units_p50 beyond the sensing window).
with

forecast as (

    select * from {{ source('analytics', 'demand_forecast') }}

),

sensing as (

    select * from {{ source('analytics', 'demand_sensing') }}

),

final as (

    select
        forecast.sku,
        forecast.family,
        cast(forecast.week_start as date) as week_start,
        cast(forecast.horizon_week as integer) as horizon_week,
        forecast.units_p10,
        forecast.units_p50,
        forecast.units_p90,
        forecast.revenue,
        coalesce(sensing.sensed_units, forecast.units_p50) as sensed_units,
        forecast.model
    from forecast
    left join sensing
        on sensing.sku = forecast.sku
       and cast(sensing.week_start as date) = cast(forecast.week_start as date)

)

select * from final
