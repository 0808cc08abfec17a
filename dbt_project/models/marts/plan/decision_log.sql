-- The decision log: every decision (yes/no) and the pipeline's proposals awaiting one, with RACI.
select
    decision_id,
    cast(cycle as date) as cycle,
    kind,
    subject,
    value,
    approved,
    status,
    source,
    accountable,
    responsible,
    consulted,
    informed,
    decided_at,
    effect,
    cycle_id as logged_in_cycle
from {{ source('plan_outputs', 'decision_log') }}
