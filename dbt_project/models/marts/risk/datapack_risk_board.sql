-- The top 5 risks by expected impact (probability x impact $), one per (kind, entity), with
-- mitigation and owner. Signals of unknown impact rank after those with a number.
with

signals as (

    select * from {{ ref('risk_signals') }}

),

strongest_per_entity as (

    select
        *,
        row_number() over (partition by kind, entity_id
                           order by expected_impact desc nulls last, probability desc, signal_id) as entity_rank
    from signals

),

ranked as (

    select
        *,
        row_number() over (order by expected_impact desc nulls last, probability desc, signal_id) as rank
    from strongest_per_entity
    where entity_rank = 1

)

select
    rank,
    kind,
    entity_id,
    signal,
    detected_on,
    probability,
    impact_value,
    expected_impact,
    mitigation,
    owner,
    detail
from ranked
where rank <= 5
