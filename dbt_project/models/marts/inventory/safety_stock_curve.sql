-- The service-vs-inventory curve the meeting picks a point on (one line per family + TOTAL).
select
    family,
    service_type,
    service_level,
    safety_stock_value,
    holding_cost_per_year,
    shortage_cost_per_year,
    total_cost_per_year,
    annual_saving,
    is_current,
    is_least_cost,
    is_proposed,
    is_chosen,
    chosen_level
from {{ source('inventory_policy', 'safety_stock_curve') }}
