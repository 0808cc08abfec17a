-- Sigma-based vs empirical-quantile safety stock, simulated on the same items (analytics/safety_stock_sim.py
-- compare_policies): per world (forecast_errors, model) x policy x item group (A+B, all).
select
    cast(cycle_id as date) as cycle_id,
    world,
    ss_policy,
    abc,
    items,
    service_target_pct,
    sim_fill_rate_pct,
    sim_cycle_service_pct,
    median_abs_gap_pp,
    short_items_pct,
    safety_stock_units,
    safety_stock_value,
    sim_avg_on_hand_units,
    is_plan_policy
from {{ source('inventory_policy', 'safety_stock_policy_compare') }}
