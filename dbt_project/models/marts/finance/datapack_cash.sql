-- Working capital at the as-of date, one month earlier, and the change (cash tied up).
select
    point,
    cast(date as date) as as_of_date,
    ar_value,
    ap_value,
    inventory_value,
    working_capital,
    cash_tied_up,
    dso_days,
    dpo_days,
    dio_days,
    ccc_days,
    inventory_turns,
    notes
from {{ source('finance_outputs', 'finance_cash') }}
