-- The top 5 risks by expected impact (probability x impact $), one per root cause, with
-- mitigation and owner. Signals that share a root cause (a supplier's drift, its OTIF decline
-- and the route only it uses; an asset's downtime trend and its events) take one line: the
-- strongest signal, the others listed in `supporting`. Signals of unknown impact rank after
-- those with a number. Same rule as analytics.risk.risk_board.
with

signals as (

    select *, coalesce(root_cause, kind || ' ' || entity_id) as cause
    from {{ ref('risk_signals') }}

),

ranked_in_cause as (

    select
        *,
        row_number() over (partition by cause
                           order by expected_impact desc nulls last, probability desc, signal_id) as cause_rank
    from signals

),

supporting as (

    select
        cause,
        {{ dbt.listagg("signal || ' ' || entity_id", "'; '", 'order by cause_rank') }} as supporting
    from ranked_in_cause
    where cause_rank > 1
    group by cause

),

ranked as (

    select
        ranked_in_cause.*,
        coalesce(supporting.supporting, '') as supporting,
        row_number() over (order by expected_impact desc nulls last, probability desc, signal_id) as rank
    from ranked_in_cause
    left join supporting on supporting.cause = ranked_in_cause.cause
    where cause_rank = 1

)

select
    rank,
    kind,
    entity_id,
    signal,
    cause as root_cause,
    detected_on,
    probability,
    impact_value,
    expected_impact,
    mitigation,
    owner,
    detail,
    supporting
from ranked
where rank <= 5
