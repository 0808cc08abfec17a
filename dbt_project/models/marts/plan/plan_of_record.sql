-- The one published plan of record: SKU x horizon week.
select
    cycle_id,
    sku,
    family,
    cast(week_start as date) as week_start,
    horizon_week,
    demand_units,
    demand_source,
    revenue,
    margin,
    supply_units,
    supply_source,
    resource_id,
    constraint_hours,
    moved_in_units,
    moved_out_units,
    cut_units,
    projected_inventory_units,
    safety_stock_units,
    service_risk,
    decision_ids,
    notes
from {{ source('plan_outputs', 'plan_of_record') }}
