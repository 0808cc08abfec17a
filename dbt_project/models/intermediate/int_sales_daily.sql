-- Sales actuals by day x SKU: POS sell-out by store plus B2B shipments (shipped qty at the
-- order line's price), with cost of goods at the item's unit cost. The one "actual revenue"
-- of the data pack (revenue vs plan, price-volume-mix, margin, COGS for turns and DPO).
with

pos as (

    select * from {{ ref('stg_pos__pos_sales') }}

),

orders as (

    select * from {{ ref('stg_erp__sales_orders') }}

),

shipments as (

    select * from {{ ref('stg_erp__shipments') }}

),

items as (

    select * from {{ ref('stg_erp__items') }}

),

retail as (

    select sales_date, sku, 'store' as channel, sum(units) as units, sum(revenue) as revenue
    from pos
    group by sales_date, sku

),

b2b as (

    select
        shipments.ship_date as sales_date,
        orders.sku,
        'b2b' as channel,
        sum(shipments.qty) as units,
        sum(shipments.qty * orders.unit_price) as revenue
    from shipments
    inner join orders on orders.order_id = shipments.order_id and orders.line = shipments.line
    group by shipments.ship_date, orders.sku

),

final as (

    select
        sales.sales_date,
        {{ week_start('sales.sales_date') }} as week_start,
        cast({{ dbt.date_trunc('month', 'sales.sales_date') }} as date) as month_start,
        sales.sku,
        items.family,
        sales.channel,
        sales.units,
        sales.revenue,
        sales.units * items.unit_cost as cogs
    from (select * from retail union all select * from b2b) sales
    inner join items on items.sku = sales.sku

)

select * from final
