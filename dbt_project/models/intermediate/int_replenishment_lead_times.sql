-- Observed replenishment lead times in days, one row per observation and SKU, with its kind.
-- Bought items: purchase order date -> first receipt of the line. Made items: production order
-- release (actual start, else planned start) -> completion (actual end) of completed orders.
-- Which observations an item's safety stock uses depends on how it is sourced at the cycle's
-- as-of (the item master, or the latest approved make_vs_buy decision): the inventory asset picks
-- them (sop_pipeline.analytics.inventory_policy.sourced_lead_times).
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

final as (

    select sku, kind, lead_time_days
    from observations

)

select * from final
