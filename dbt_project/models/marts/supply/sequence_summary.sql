select resource_id, cast(week_start as date) as week_start, changeover_hours_fifo, changeover_hours_optimized,
       oee_fifo, oee_optimized, late_orders_optimized as late_orders, late_orders_fifo
from {{ source('supply_outputs', 'sequence_summary') }}
