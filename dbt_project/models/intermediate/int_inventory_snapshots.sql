-- Inventory value at cost by snapshot date x location x SKU (available and on hold), the
-- basis of inventory turns, days of supply and the A-item stockout count, with the part of it in
-- expired lots.
with

lots as (

    select * from {{ ref('stg_erp__inventory_lots') }}

),

items as (

    select * from {{ ref('stg_erp__items') }}

),

final as (

    select
        lots.snapshot_date,
        {{ week_start('lots.snapshot_date') }} as week_start,
        lots.location,
        lots.sku,
        items.family,
        sum(case when lots.status = 'available' then lots.qty else 0 end) as available_units,
        sum(case when lots.status = 'hold' then lots.qty else 0 end) as hold_units,
        sum(lots.qty) as on_hand_units,
        sum(lots.qty) * max(items.unit_cost) as on_hand_value,
        -- lots past their expiry on the snapshot: on the books until written off, never sellable
        sum(case when lots.expiry_date is not null and lots.expiry_date <= lots.snapshot_date then lots.qty else 0 end)
            as expired_units,
        sum(case when lots.expiry_date is not null and lots.expiry_date <= lots.snapshot_date then lots.qty else 0 end)
            * max(items.unit_cost) as expired_value
    from lots
    inner join items on items.sku = lots.sku
    group by lots.snapshot_date, lots.location, lots.sku, items.family

)

select * from final
