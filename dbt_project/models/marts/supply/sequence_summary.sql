-- Per sequenced resource and week: MPS units vs what fits the shift calendar, changeovers FIFO vs optimized.
select resource_id, cast(week_start as date) as week_start, jobs, jobs_below_min_run, planned_units,
       scheduled_units, unscheduled_units, run_hours, changeover_hours_reserved, changeover_hours_optimized,
       available_hours, required_hours, wait_hours, fits, changeover_hours_fifo, oee_fifo, oee_optimized,
       late_orders_optimized as late_orders, late_orders_fifo
from {{ source('supply_outputs', 'sequence_summary') }}
