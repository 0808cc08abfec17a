-- Offloads to alternate resources: the units the plan makes on an alternate because the primary was full.
select
    cycle_id,
    sku,
    family,
    cast(week_start as date) as week_start,
    horizon_week,
    from_resource_id,
    to_resource_id,
    priority,
    units,
    from_hours,
    to_hours,
    extra_cost
from {{ source('plan_outputs', 'plan_offloads') }}
