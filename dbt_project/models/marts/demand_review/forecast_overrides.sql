-- Every forecast override this cycle with its status and effect on the consensus.
select
    cast(cycle_id as date) as cycle_id,
    override_id,
    level,
    {{ adapter.quote('key') }},
    cast(week_from as date) as week_from,
    cast(week_to as date) as week_to,
    {{ adapter.quote('mode') }},
    {{ adapter.quote('value') }},
    profile,
    reason,
    author,
    approved,
    created_at,
    status,
    sku_weeks,
    weeks,
    base_units,
    override_units,
    delta_units,
    note
from {{ source('demand_review_outputs', 'forecast_override_log') }}
