-- Working capital over the plan horizon (DSO and DPO held at today's values).
select
    cast(week_start as date) as week_start,
    revenue as invoiced_revenue,
    cogs,
    ar_value,
    ap_value,
    inventory_value,
    working_capital,
    cash_tied_up,
    cumulative_cash_tied_up,
    dso_days,
    dpo_days,
    dio_days,
    ccc_days,
    notes
from {{ source('finance_outputs', 'finance_cash_projection') }}
