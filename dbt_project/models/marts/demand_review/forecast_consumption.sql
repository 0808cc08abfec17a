-- Forecast, booked, consumed and remaining per SKU x horizon week, with the plan of record's demand.
with

consumption as (

    select * from {{ source('demand_review_outputs', 'demand_consumption') }}

),

plan as (

    select sku, cast(week_start as date) as week_start, demand_units
    from {{ source('plan_outputs', 'plan_of_record') }}

)

select
    cast(consumption.cycle_id as date) as cycle_id,
    consumption.sku,
    consumption.family,
    cast(consumption.week_start as date) as week_start,
    cast(consumption.horizon_week as integer) as horizon_week,
    consumption.forecast_units,
    consumption.booked_units,
    consumption.consumed_units,
    consumption.remaining_units,
    consumption.booked_consumed_units,
    consumption.unconsumed_units,
    consumption.planned_demand_units,
    cast(consumption.booked_lines as integer) as booked_lines,
    consumption.demand_source,
    consumption.override_ids,
    plan.demand_units as plan_demand_units,
    cast(consumption.backward_days as integer) as backward_days,
    cast(consumption.forward_days as integer) as forward_days
from consumption
left join plan
    on plan.sku = consumption.sku and plan.week_start = cast(consumption.week_start as date)
