-- OEE per machine and week with the loss breakdown, and changeover hours actual vs planned.
select
    o.resource_id,
    cast(o.week_start as date) as week_start,
    o.availability,
    o.performance,
    o.quality,
    o.oee,
    o.planned_hours,
    o.run_hours,
    c.changeover_hours_actual,
    c.changeover_hours_planned
from {{ source('supply_outputs', 'oee_weekly') }} o
left join {{ source('supply_outputs', 'changeover_weekly') }} c
    on c.resource_id = o.resource_id and cast(c.week_start as date) = cast(o.week_start as date)
