-- POS units per family and day from 104 weeks before week 0 (the cycle's current week) to the
-- as-of date: the weekday profile the sensing nowcast scales week 0's sales with (its last 13
-- complete weeks, sop_pipeline/analytics/sensing.py weekday_share), and the learned sensing's
-- POS pace and family season index at each backtest origin (analytics/sensing_model.py).
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
    where pos.sales_date >= cast({{ dbt.dateadd('day', -728, 'cycle.week0_start') }} as date)
      and pos.sales_date <= cycle.as_of
    group by items.family, pos.sales_date

)

select * from final
