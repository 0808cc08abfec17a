-- POS units per family and day over the 13 complete weeks before week 0 (the cycle's current
-- week): the weekday profile the sensing nowcast scales week 0's sales with
-- (sop_pipeline/analytics/sensing.py weekday_share).
with

cycle as (

    select * from {{ source('meta', 'cycle') }}

),

pos as (

    select * from {{ ref('stg_pos__pos_sales') }}

),

items as (

    select * from {{ ref('stg_erp__items') }}

),

final as (

    select
        items.family,
        pos.sales_date,
        sum(pos.units) as units
    from pos
    inner join items on pos.sku = items.sku
    cross join cycle
    where pos.sales_date >= cast({{ dbt.dateadd('day', -91, 'cycle.week0_start') }} as date)
      and pos.sales_date < cycle.week0_start
    group by items.family, pos.sales_date

)

select * from final
