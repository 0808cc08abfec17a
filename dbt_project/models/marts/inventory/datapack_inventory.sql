-- Inventory position per SKU at the as-of date: on hand (available), on hold, WIP (open
-- production orders), on order (open purchase order lines), and the plan of record's safety stock
-- (its week-1 target; a seasonal SKU's follows its season, so its peak is shown too) next to the
-- fill-rate policy's single figure, and the reorder point (order-up-to level) that goes with the
-- plan's week-1 stock, valued at unit cost.
with

cycle as (

    select * from {{ source('meta', 'cycle') }}

),

items as (

    select * from {{ ref('stg_erp__items') }}

),

snapshots as (

    select * from {{ ref('int_inventory_snapshots') }}

),

latest as (

    select sku, sum(available_units) as on_hand_units, sum(hold_units) as hold_units
    from snapshots
    where snapshot_date = (select max(snapshot_date) from snapshots)
    group by sku

),

usable as (

    -- what the plan of record may use: available lots not expired by the start of week 1
    select sku, sum(usable_units) as usable_units,
           sum(case when usability in ('expired', 'expires_before_week_1') then qty else 0 end) as expired_units
    from {{ ref('int_usable_stock') }}
    group by sku

),

wip as (

    select sku, sum(greatest(planned_qty - coalesce(good_qty, 0), 0)) as wip_units
    from {{ ref('stg_mes__production_orders') }}
    where status in ('released', 'in_progress')
    group by sku

),

received as (

    select po_id, line, sum(qty) as received_qty
    from {{ ref('stg_erp__receipts') }}
    group by po_id, line

),

on_order as (

    select po.sku, sum(greatest(po.qty - coalesce(received.received_qty, 0), 0)) as on_order_units
    from {{ ref('stg_erp__purchase_orders') }} po
    left join received on received.po_id = po.po_id and received.line = po.line
    group by po.sku

),

policy as (

    select sku, safety_stock_units, reorder_point_units, service_target, protection_weeks
    from {{ source('inventory_policy', 'safety_stock') }}
    where service_type = 'fill_rate'

),

plan as (

    select sku, week_start, safety_stock_units from {{ source('plan_outputs', 'plan_of_record') }}

),

plan_ss as (

    -- the plan's target in week 1 and at its highest; 'season' where it is not the policy's
    -- single figure in every week (plan_inputs.seasonal_safety_stock)
    select
        plan.sku,
        max(case when plan.week_start = (select min(week_start) from plan) then plan.safety_stock_units end)
            as week1_units,
        max(plan.safety_stock_units) as peak_units,
        case
            when bool_and(abs(plan.safety_stock_units - coalesce(policy.safety_stock_units, 0)) <= 1e-6)
                then 'policy'
            else 'season'
        end as basis
    from plan
    left join policy on policy.sku = plan.sku
    group by plan.sku

),

-- week 1's forecast p50: a seasonal SKU's reorder point is its protection interval's demand as the
-- plan reads it (P weeks of week 1's p50: weeks before the horizon take week 1's,
-- plan_inputs.seasonal_safety_stock) plus the plan's week-1 safety stock
week1_forecast as (

    select forecast.sku, max(forecast.units_p50) as units_p50
    from {{ source('analytics', 'demand_forecast') }} forecast
    where cast(forecast.week_start as date) = (select min(week_start) from plan)
    group by forecast.sku

),

final as (

    select
        items.sku,
        items.family,
        coalesce(latest.on_hand_units, 0) as on_hand_units,
        coalesce(latest.hold_units, 0) as hold_units,
        coalesce(usable.usable_units, 0) as usable_units,
        coalesce(usable.expired_units, 0) as expired_units,
        coalesce(wip.wip_units, 0) as wip_units,
        coalesce(on_order.on_order_units, 0) as on_order_units,
        coalesce(plan_ss.week1_units, policy.safety_stock_units) as safety_stock_units,
        coalesce(plan_ss.peak_units, policy.safety_stock_units) as safety_stock_peak_units,
        policy.safety_stock_units as policy_safety_stock_units,
        case
            when plan_ss.sku is not null then plan_ss.basis
            when policy.sku is not null then 'policy'
        end as safety_stock_basis,
        case
            when plan_ss.basis = 'season'
                then policy.protection_weeks * greatest(coalesce(week1_forecast.units_p50, 0), 0) + plan_ss.week1_units
            else policy.reorder_point_units
        end as reorder_point_units,
        policy.reorder_point_units as policy_reorder_point_units,
        policy.service_target,
        coalesce(latest.on_hand_units, 0) * items.unit_cost as on_hand_value,
        coalesce(latest.hold_units, 0) * items.unit_cost as hold_value,
        coalesce(wip.wip_units, 0) * items.unit_cost as wip_value,
        coalesce(plan_ss.week1_units, policy.safety_stock_units) * items.unit_cost as safety_stock_value,
        coalesce(plan_ss.peak_units, policy.safety_stock_units) * items.unit_cost as safety_stock_peak_value,
        policy.safety_stock_units * items.unit_cost as policy_safety_stock_value
    from items
    left join latest on latest.sku = items.sku
    left join usable on usable.sku = items.sku
    left join wip on wip.sku = items.sku
    left join on_order on on_order.sku = items.sku
    left join policy on policy.sku = items.sku
    left join plan_ss on plan_ss.sku = items.sku
    left join week1_forecast on week1_forecast.sku = items.sku

)

select * from final
