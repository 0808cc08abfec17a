-- The demand review's AI callouts in one list: history outliers, unsupported hockey sticks in
-- forecast snapshots, and persistently optimistic sales input (family or SKU).
with

flags as (

    select * from {{ source('analytics', 'demand_outliers') }}

),

bias as (

    select * from {{ source('analytics', 'demand_bias') }}

),

history_and_hockey as (

    select
        kind,
        sku,
        family,
        cast(week_start as date) as week_start,
        value,
        expected,
        reason
    from flags

),

flagged_families as (

    select forecast_source, family
    from bias
    where level = 'family' and sales_optimism

),

-- family flags, plus SKUs optimistic on their own (a SKU of a flagged family is covered by it)
optimism as (

    select
        'sales_optimism' as kind,
        case when bias.level = 'sku' then bias.sku end as sku,
        bias.family,
        cast(bias.last_snapshot as date) as week_start,
        bias.forecast_units as value,
        bias.actual_units as expected,
        bias.reason
    from bias
    left join flagged_families
        on flagged_families.forecast_source = bias.forecast_source
       and flagged_families.family = bias.family
    where bias.sales_optimism
      and (bias.level = 'family' or flagged_families.family is null)

),

final as (

    select * from history_and_hockey
    union all
    select * from optimism

)

select * from final
