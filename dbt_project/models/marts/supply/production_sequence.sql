-- The plan of record's MPS as one synchronized timetable of the sequenced resources (an operation holds line and tooling together).
select resource_id, cast(week_start as date) as week_start, position, sku, qty, scheduled_qty, unscheduled_qty,
       fits, min_run_units, run_hours, changeover_minutes, changeover_start, start, "end", due as due_date, late,
       operation_id, held_with, wait_hours
from {{ source('supply_outputs', 'production_sequence') }}
