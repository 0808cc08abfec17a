select employee_id, resource_id, level, shift, hours_per_week, qualified
from {{ source('supply_outputs', 'skill_matrix') }}
