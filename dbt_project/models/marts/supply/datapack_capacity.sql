-- Weekly capacity by critical resource for the 13-week horizon, with the bottleneck: the load the
-- demand forecast needs (required_hours, load_pct) and the load of the plan of record (plan_hours,
-- plan_load_pct: after it moved, built ahead, offloaded to alternates or cut what did not fit).
with

capacity as (

    select * from {{ source('supply_outputs', 'capacity') }}

),

plan_load as (

    select * from {{ source('plan_outputs', 'plan_resource_load') }}

)

select
    capacity.resource_id,
    capacity.type,
    cast(capacity.week_start as date) as week_start,
    capacity.available_hours,
    capacity.required_hours,
    capacity.changeover_hours,
    capacity.load_pct,
    capacity.is_bottleneck,
    plan_load.run_hours as plan_run_hours,
    plan_load.plan_hours,
    plan_load.plan_load_pct
from capacity
left join plan_load
    on plan_load.resource_id = capacity.resource_id
    and cast(plan_load.week_start as date) = cast(capacity.week_start as date)
