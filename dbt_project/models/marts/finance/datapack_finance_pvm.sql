-- Price-volume-mix bridge of the last complete month (KPI_DEFINITIONS.md "Finance bridge").
select
    month_start,
    comparison,
    family,
    level,
    units_actual,
    units_base,
    revenue_base,
    price_effect,
    volume_effect,
    mix_effect,
    revenue_actual,
    total_difference
from {{ source('finance_outputs', 'finance_pvm') }}
