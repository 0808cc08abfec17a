-- Aged inventory on the latest snapshot: days since receipt of each lot, in the buckets of
-- KPI_DEFINITIONS.md (0-30, 31-90, 91-180, 181-365, >365), by family, in units and at cost.
with

lots as (

    select * from {{ ref('stg_erp__inventory_lots') }}

),

items as (

    select * from {{ ref('stg_erp__items') }}

),

latest as (

    select lots.*, {{ dbt.datediff('lots.receipt_date', 'lots.snapshot_date', 'day') }} as age_days
    from lots
    where lots.snapshot_date = (select max(snapshot_date) from lots)

),

bucketed as (

    select
        items.family,
        case
            when latest.age_days <= 30 then '0-30'
            when latest.age_days <= 90 then '31-90'
            when latest.age_days <= 180 then '91-180'
            when latest.age_days <= 365 then '181-365'
            else '>365'
        end as bucket,
        latest.qty as units,
        latest.qty * items.unit_cost as value
    from latest
    inner join items on items.sku = latest.sku

),

final as (

    select
        family,
        bucket,
        case bucket when '0-30' then 1 when '31-90' then 2 when '91-180' then 3 when '181-365' then 4 else 5 end
            as bucket_order,
        sum(units) as units,
        sum(value) as value
    from bucketed
    group by family, bucket

)

select * from final
