-- Gross margin by family: last complete month and the 12 months to it.
select
    period,
    period_start,
    family,
    level,
    units,
    revenue,
    cogs,
    margin,
    margin_pct
from {{ source('finance_outputs', 'finance_margin') }}
