select employee_id, shift, from_resource, to_resource, current_level, hours_unlocked, hours_lost_elsewhere,
       cast(week_needed as date) as week_needed
from {{ source('supply_outputs', 'cross_train_plan') }}
