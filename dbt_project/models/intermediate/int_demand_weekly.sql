-- Weekly demand history by SKU x location x ISO week, as of the cycle (complete weeks only).
--
-- Two demand streams, kept as separate series:
--   * retail: POS units/revenue by store (location = the store code, channel = 'store');
--   * B2B:    sales order lines by requested week, not cancelled, all customers together
--             (location = 'B2B', channel = 'b2b'): what customers asked for, whether or not
--             we shipped it in time, so short shipments do not look like low demand.
-- Each series runs from its first week with sales to the last complete week on or before the
-- as-of date; weeks without rows in between are zero-demand weeks (is_zero_filled).
-- Stock-out weeks (zero available stock at the location on an inventory snapshot of the week)
-- are marked: their units are censored demand and the forecast treats them as missing.
with

cycle as (

    select * from {{ source('meta', 'cycle') }}

),

items as (

    select * from {{ ref('stg_erp__items') }}

),

pos as (

    select * from {{ ref('stg_pos__pos_sales') }}

),

orders as (

    select * from {{ ref('stg_erp__sales_orders') }}

),

promotions as (

    select * from {{ ref('stg_crm__promotions') }}

),

inventory as (

    select * from {{ ref('stg_erp__inventory_lots') }}

),

-- last Monday whose week is complete on the as-of date (as-of on a Sunday: that week itself)
history_end as (

    select
        case when {{ dbt.dateadd('day', 6, 'week0_start') }} <= as_of
             then week0_start
             else {{ dbt.dateadd('day', -7, 'week0_start') }}
        end as last_week_start
    from cycle

),

retail_weeks as (

    select
        pos.sku,
        pos.location,
        'store' as channel,
        pos.week_start,
        sum(pos.units) as units,
        sum(pos.revenue) as revenue
    from pos
    cross join history_end
    where pos.week_start <= history_end.last_week_start
    group by pos.sku, pos.location, pos.week_start

),

b2b_weeks as (

    select
        orders.sku,
        'B2B' as location,
        'b2b' as channel,
        orders.requested_week_start as week_start,
        sum(orders.qty) as units,
        sum(orders.qty * coalesce(orders.unit_price, 0)) as revenue
    from orders
    cross join history_end
    where orders.status <> 'cancelled'
      and orders.requested_week_start is not null
      and orders.requested_week_start <= history_end.last_week_start
    group by orders.sku, orders.requested_week_start

),

sales_weeks as (

    select * from retail_weeks
    union all
    select * from b2b_weeks

),

series as (

    select
        sku,
        location,
        channel,
        min(week_start) as first_sale_week
    from sales_weeks
    where units > 0
    group by sku, location, channel

),

week_numbers as (

    -- up to 1,024 weeks (~19.6 years) of history per series
    {{ dbt.generate_series(1024) }}

),

series_weeks as (

    select
        series.sku,
        series.location,
        series.channel,
        series.first_sale_week,
        cast({{ dbt.dateadd('day', '7 * (week_numbers.generated_number - 1)', 'series.first_sale_week') }} as date)
            as week_start
    from series
    cross join week_numbers
    cross join history_end
    where {{ dbt.dateadd('day', '7 * (week_numbers.generated_number - 1)', 'series.first_sale_week') }}
          <= history_end.last_week_start

),

-- available stock per location x SKU x snapshot; zero on any snapshot of the week = stock-out week
stock_snapshots as (

    select
        location,
        sku,
        week_start,
        snapshot_date,
        sum(case when status = 'available' then qty else 0 end) as available_qty
    from inventory
    group by location, sku, week_start, snapshot_date

),

stockout_weeks as (

    select
        location,
        sku,
        week_start,
        min(available_qty) as min_available_qty
    from stock_snapshots
    group by location, sku, week_start
    having min(available_qty) <= 0

),

store_locations as (

    select distinct location from retail_weeks

),

-- a promotion targets a store by its code, every series of the SKU with 'ALL' (or empty), and
-- the B2B series when it names anything else (a customer id)
promo_targets as (

    select
        promotions.promo_id,
        promotions.sku,
        promotions.start_date,
        promotions.end_date,
        promotions.discount_pct,
        case
            when promotions.location_or_customer is null
              or upper(promotions.location_or_customer) = 'ALL' then 'ALL'
            when store_locations.location is not null then promotions.location_or_customer
            else 'B2B'
        end as target_location
    from promotions
    left join store_locations
        on promotions.location_or_customer = store_locations.location

),

promo_weeks as (

    select
        series_weeks.sku,
        series_weeks.location,
        series_weeks.week_start,
        max(
            {{ dbt.datediff(
                'greatest(promo_targets.start_date, series_weeks.week_start)',
                'least(promo_targets.end_date, ' ~ dbt.dateadd('day', 6, 'series_weeks.week_start') ~ ')',
                'day') }} + 1
        ) as promo_days,
        max(promo_targets.discount_pct) as promo_discount_pct
    from series_weeks
    inner join promo_targets
        on promo_targets.sku = series_weeks.sku
       and (promo_targets.target_location = series_weeks.location or promo_targets.target_location = 'ALL')
       and promo_targets.start_date <= {{ dbt.dateadd('day', 6, 'series_weeks.week_start') }}
       and promo_targets.end_date >= series_weeks.week_start
    group by series_weeks.sku, series_weeks.location, series_weeks.week_start

),

final as (

    select
        series_weeks.sku,
        series_weeks.location,
        series_weeks.channel,
        items.family,
        items.category,
        items.lifecycle,
        series_weeks.week_start,
        coalesce(sales_weeks.units, 0) as units,
        coalesce(sales_weeks.revenue, 0) as revenue,
        case when sales_weeks.units > 0 then sales_weeks.revenue / sales_weeks.units end as avg_price,
        items.unit_price as list_price,
        promo_weeks.promo_days is not null as is_promo,
        coalesce(promo_weeks.promo_days, 0) as promo_days,
        coalesce(promo_weeks.promo_discount_pct, 0) as promo_discount_pct,
        stockout_weeks.sku is not null as is_stockout,
        sales_weeks.sku is null as is_zero_filled,
        series_weeks.first_sale_week,
        cast({{ dbt.datediff('series_weeks.first_sale_week', 'series_weeks.week_start', 'day') }} / 7 as integer)
            as weeks_since_first_sale
    from series_weeks
    inner join items
        on items.sku = series_weeks.sku
    left join sales_weeks
        on sales_weeks.sku = series_weeks.sku
       and sales_weeks.location = series_weeks.location
       and sales_weeks.week_start = series_weeks.week_start
    left join promo_weeks
        on promo_weeks.sku = series_weeks.sku
       and promo_weeks.location = series_weeks.location
       and promo_weeks.week_start = series_weeks.week_start
    left join stockout_weeks
        on stockout_weeks.sku = series_weeks.sku
       and stockout_weeks.location = series_weeks.location
       and stockout_weeks.week_start = series_weeks.week_start

)

select * from final
