-- Plan of record vs finance's revenue plan per family: by month and over the 13-week horizon,
-- bridged by price-volume-mix (sop_pipeline/analytics/reconcile.py).
select
    period,
    cast(period_start as date) as period_start,
    cast(period_end as date) as period_end,
    cast(first_day as date) as first_day,
    cast(last_day as date) as last_day,
    days_covered,
    days_in_period,
    finance_plan_covered,
    family,
    level,
    units_plan_of_record,
    units_finance_plan,
    revenue_plan_of_record,
    revenue_finance_plan,
    margin_plan_of_record,
    net_margin_plan_of_record,
    price_effect,
    volume_effect,
    mix_effect,
    total_difference
from {{ source('finance_outputs', 'plan_reconciliation') }}
