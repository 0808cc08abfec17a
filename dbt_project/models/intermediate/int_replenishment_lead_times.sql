-- Observed replenishment lead times in days, one row per observation and SKU.
-- Bought items: purchase order date -> first receipt of the line. Made items: production order
-- release (actual start, else planned start) -> completion (actual end) of completed orders.
-- Each item uses the observations of its own kind (item master make_or_buy); an item with none
-- of its kind (it changed from make to buy, say) uses the other kind's.
with

purchase_orders as (

    select * from {{ ref('stg_erp__purchase_orders') }}

),

receipts as (

    select * from {{ ref('stg_erp__receipts') }}

),

production_orders as (

    select * from {{ ref('stg_mes__production_orders') }}

),

items as (

    select * from {{ ref('stg_erp__items') }}

),

observations as (

    select
        po.sku,
        'buy' as kind,
        {{ dbt.datediff('po.order_date', 'min(r.receipt_date)', 'day') }} as lead_time_days
    from purchase_orders po
    join receipts r on r.po_id = po.po_id and r.line = po.line
    group by po.po_id, po.line, po.sku, po.order_date

    union all

    select
        sku,
        'make',
        {{ dbt.datediff('coalesce(actual_start, planned_start)', 'actual_end', 'minute') }} / 1440.0
    from production_orders
    where status = 'completed' and actual_end is not null
      and actual_end >= coalesce(actual_start, planned_start)

),

tagged as (

    select
        observations.*,
        coalesce(observations.kind = items.make_or_buy, true) as own_kind,
        bool_or(coalesce(observations.kind = items.make_or_buy, true))
            over (partition by observations.sku) as has_own
    from observations
    left join items on items.sku = observations.sku

),

final as (

    select sku, lead_time_days
    from tagged
    where own_kind or not has_own

)

select * from final
