-- Consumption's planned demand vs the plan of record's demand per family x horizon week.
select
    family,
    cast(week_start as date) as week_start,
    forecast_units,
    booked_units,
    planned_demand_units,
    plan_demand_units,
    difference_units
from {{ source('demand_review_outputs', 'demand_plan_controls') }}
