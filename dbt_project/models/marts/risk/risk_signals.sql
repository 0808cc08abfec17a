-- Every early-warning signal of the cycle, strongest expected impact first.
select
    signal_id,
    kind,
    entity_id,
    signal,
    cast(detected_on as date) as detected_on,
    probability,
    impact_value,
    expected_impact,
    exposure_days,
    mitigation,
    owner,
    detail,
    root_cause
from {{ source('risk_outputs', 'risk_signals') }}
