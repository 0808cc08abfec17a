-- Sales (POS sell-out + B2B shipments) per SKU and ISO week, summed over locations and channels:
-- the revenue and volume the ABC/XYZ classification reads.
with

sales as (

    select * from {{ ref('int_sales_daily') }}

),

final as (

    select
        sku,
        family,
        week_start,
        sum(units) as units,
        sum(revenue) as revenue
    from sales
    group by sku, family, week_start

)

select * from final
