-- Consensus demand per SKU and horizon week: the latest sales submission after the optimism
-- filter, next to the statistical forecast, with the units shrunk and the rule that applied.
with

consensus as (

    select * from {{ source('analytics', 'demand_consensus') }}

),

final as (

    select
        sku,
        family,
        cast(week_start as date) as week_start,
        cast(horizon_week as integer) as horizon_week,
        forecast_source,
        cast(snapshot_date as date) as snapshot_date,
        sales_units,
        statistical_units,
        consensus_units,
        shrunk_units,
        rule
    from consensus

)

select * from final
