-- Weekly demand per SKU summed over locations and channels, stock-out weeks left out (a week
-- without stock shows what was shipped, not what was asked for): the demand whose variability
-- safety stock protects against.
with

demand as (

    select * from {{ ref('int_demand_weekly') }}
    where not coalesce(is_stockout, false)

),

final as (

    select
        sku,
        week_start,
        sum(units) as units
    from demand
    group by sku, week_start

)

select * from final
