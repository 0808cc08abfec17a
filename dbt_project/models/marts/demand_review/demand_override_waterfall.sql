-- Statistical forecast, consensus before overrides, override and consensus per SKU x horizon week.
select
    cast(cycle_id as date) as cycle_id,
    sku,
    family,
    cast(week_start as date) as week_start,
    cast(horizon_week as integer) as horizon_week,
    statistical_units,
    base_units,
    override_delta_units,
    consensus_units,
    override_ids,
    override_level
from {{ source('demand_review_outputs', 'demand_override_waterfall') }}
