-- Control totals: the plan of record's figures where they are used downstream (no leakage).
select
    measure,
    downstream,
    plan_of_record_value,
    downstream_value,
    difference,
    tolerance,
    reconciles,
    notes
from {{ source('finance_outputs', 'plan_reconciliation_controls') }}
