-- Family roll-up of the plan of record per horizon week.
select
    cycle_id,
    family,
    week_start,
    horizon_week,
    sum(demand_units) as demand_units,
    sum(revenue) as revenue,
    sum(margin) as margin,
    sum(net_margin) as net_margin,
    sum(supply_units) as supply_units,
    sum(receipts_units) as receipts_units,
    sum(expired_units) as expired_units,
    -- the week's opening stock, from the balance (backlog form): projected = opening + supply +
    -- receipts - demand - expired
    sum(projected_inventory_units - supply_units - receipts_units + demand_units + expired_units)
        as opening_inventory_units,
    sum(expedite_cost) as expedite_cost,
    sum(offload_cost) as offload_cost,
    sum(constraint_hours) as constraint_hours,
    sum(moved_out_units) as moved_out_units,
    sum(cut_units) as cut_units,
    sum(built_ahead_units) as built_ahead_units,
    sum(projected_inventory_units) as projected_inventory_units,
    sum(safety_stock_units) as safety_stock_units,
    sum(case when service_risk <> 'ok' then 1 else 0 end) as skus_at_risk
from {{ ref('plan_of_record') }}
group by cycle_id, family, week_start, horizon_week
