-- Weekly capacity by critical resource for the 13-week horizon, with the bottleneck.
select resource_id, type, cast(week_start as date) as week_start, available_hours, required_hours,
       changeover_hours, load_pct, is_bottleneck
from {{ source('supply_outputs', 'capacity') }}
