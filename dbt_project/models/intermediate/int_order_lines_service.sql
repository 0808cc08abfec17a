-- One row per sales order line that is not cancelled, with what was shipped and delivered
-- against it, for the service KPIs (KPI_DEFINITIONS.md):
--   fill rate (line): shipped complete by the requested date;
--   OTIF: delivered qty on or before the promised date >= ordered qty.
-- Shipments after the as-of date are not in raw (as-of discipline), so open lines count as
-- not (yet) served.
with

orders as (

    select * from {{ ref('stg_erp__sales_orders') }}

),

shipments as (

    select * from {{ ref('stg_erp__shipments') }}

),

items as (

    select * from {{ ref('stg_erp__items') }}

),

shipped as (

    select
        orders.order_id,
        orders.line,
        sum(shipments.qty) as shipped_qty,
        sum(case when shipments.ship_date <= orders.requested_date then shipments.qty else 0 end)
            as shipped_qty_by_requested,
        sum(case when shipments.delivered_date <= orders.promised_date then shipments.qty else 0 end)
            as delivered_qty_by_promised,
        max(shipments.delivered_date) as last_delivered_date
    from orders
    inner join shipments
        on shipments.order_id = orders.order_id and shipments.line = orders.line
    group by orders.order_id, orders.line

),

final as (

    select
        orders.order_id,
        orders.line,
        orders.customer_id,
        orders.sku,
        items.family,
        orders.order_date,
        orders.requested_date,
        orders.promised_date,
        {{ week_start('orders.requested_date') }} as requested_week_start,
        {{ week_start('orders.promised_date') }} as promised_week_start,
        cast({{ dbt.date_trunc('month', 'orders.requested_date') }} as date) as requested_month_start,
        cast({{ dbt.date_trunc('month', 'orders.promised_date') }} as date) as promised_month_start,
        orders.qty,
        orders.unit_price,
        orders.status,
        coalesce(shipped.shipped_qty, 0) as shipped_qty,
        coalesce(shipped.shipped_qty_by_requested, 0) as shipped_qty_by_requested,
        coalesce(shipped.delivered_qty_by_promised, 0) as delivered_qty_by_promised,
        shipped.last_delivered_date,
        coalesce(shipped.shipped_qty_by_requested, 0) >= orders.qty as is_shipped_complete_on_time,
        coalesce(shipped.delivered_qty_by_promised, 0) >= orders.qty as is_otif
    from orders
    inner join items on items.sku = orders.sku
    left join shipped on shipped.order_id = orders.order_id and shipped.line = orders.line
    where orders.status <> 'cancelled'

)

select * from final
