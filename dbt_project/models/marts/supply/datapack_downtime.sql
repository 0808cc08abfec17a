-- Planned and unplanned downtime hours per resource-week (history and horizon).
select resource_id, cast(week_start as date) as week_start, planned_hours, unplanned_hours
from {{ source('supply_outputs', 'downtime_weekly') }}
