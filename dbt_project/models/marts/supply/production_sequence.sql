-- The plan of record's MPS sequenced per critical resource and week, on the shift calendar.
select resource_id, cast(week_start as date) as week_start, position, sku, qty, scheduled_qty, unscheduled_qty,
       fits, min_run_units, run_hours, changeover_minutes, changeover_start, start, "end", due as due_date, late
from {{ source('supply_outputs', 'production_sequence') }}
