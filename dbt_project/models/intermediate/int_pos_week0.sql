-- POS sell-out of the current partial week (week 0: its Monday up to the as-of) per SKU, location
-- and day, with the item's family: the sensing nowcast's input (sop_pipeline/assets/demand.py,
-- demand_sensing, which reads it only when the as-of is mid-week).
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
        pos.sku,
        pos.location,
        items.family,
        pos.sales_date,
        pos.units
    from pos
    inner join items on pos.sku = items.sku
    cross join cycle
    where pos.sales_date between cycle.week0_start and cycle.as_of

)

select * from final
