select resource_id, cast(week_start as date) as week_start, position, sku, qty, start, "end", changeover_minutes,
       due as due_date, late
from {{ source('supply_outputs', 'production_sequence') }}
