-- What changed in the plan of record vs the previous cycle, by family, and why: the decisions
-- that touched the family's rows this cycle and the demand signals behind the new numbers.
-- Compared over the weeks both plans cover, every SKU of either plan (a SKU in one plan only counts
-- 0 on the other side: a new or dropped SKU is a change). Empty on the first cycle.
with

history as (

    select * from {{ source('plan_history', 'plan_of_record') }}

),

current_cycle as (

    select max(cycle_id) as cycle_id from {{ ref('plan_of_record') }}

),

previous_cycle as (

    select max(history.cycle_id) as cycle_id
    from history cross join current_cycle
    where history.cycle_id < current_cycle.cycle_id

),

cur as (

    select plan.* from {{ ref('plan_of_record') }} plan

),

prev as (

    select history.* from history inner join previous_cycle on history.cycle_id = previous_cycle.cycle_id

),

-- the weeks both plans cover
common_weeks as (

    select
        greatest(c.first_week, p.first_week) as first_week,
        least(c.last_week, p.last_week) as last_week
    from (select min(week_start) as first_week, max(week_start) as last_week from cur) c
    cross join (
        select min(cast(week_start as date)) as first_week, max(cast(week_start as date)) as last_week from prev
    ) p

),

both_plans as (

    select
        coalesce(cur.family, prev.family) as family,
        coalesce(cur.sku, prev.sku) as sku,
        cur.demand_units as units_now,
        prev.demand_units as units_before,
        cur.revenue as revenue_now,
        prev.revenue as revenue_before,
        cur.demand_source,
        cur.decision_ids
    from (
        select cur.* from cur cross join common_weeks
        where cur.week_start between common_weeks.first_week and common_weeks.last_week
    ) cur
    full outer join (
        select prev.* from prev cross join common_weeks
        where cast(prev.week_start as date) between common_weeks.first_week and common_weeks.last_week
    ) prev
        on prev.sku = cur.sku and cast(prev.week_start as date) = cur.week_start

),

-- a SKU is new (dropped) when it has demand in this (the previous) plan and none in the other
per_sku as (

    select
        family,
        sku,
        coalesce(sum(units_now), 0) as units_now,
        coalesce(sum(units_before), 0) as units_before
    from both_plans
    group by family, sku

),

overlap as (

    select
        both_plans.family,
        coalesce(sum(both_plans.units_now), 0) as units_now,
        coalesce(sum(both_plans.units_before), 0) as units_before,
        coalesce(sum(both_plans.revenue_now), 0) as revenue_now,
        coalesce(sum(both_plans.revenue_before), 0) as revenue_before,
        {{ dbt.listagg('distinct both_plans.demand_source', "', '", 'order by both_plans.demand_source') }}
            as demand_sources
    from both_plans
    group by both_plans.family

),

sku_counts as (

    select
        family,
        count(case when units_now > 0 and units_before = 0 then 1 end) as skus_added,
        count(case when units_before > 0 and units_now = 0 then 1 end) as skus_dropped
    from per_sku
    group by family

),

-- each decision once per family (a row's decision_ids is itself a comma-separated list)
row_decisions as (

    select distinct split.family, trim(split.decision_id) as decision_id
    from (
        select both_plans.family, {{ split_to_rows('both_plans.decision_ids') }} as decision_id
        from both_plans
        where both_plans.decision_ids is not null
    ) split
    where trim(split.decision_id) <> ''

),

decisions as (

    select family, {{ dbt.listagg('decision_id', "','", 'order by decision_id') }} as decision_ids
    from row_decisions
    group by family

)

select
    (select cycle_id from current_cycle) as cycle_id,
    (select cycle_id from previous_cycle) as previous_cycle_id,
    overlap.family,
    units_before,
    units_now,
    units_now - units_before as units_change,
    revenue_before,
    revenue_now,
    revenue_now - revenue_before as revenue_change,
    skus_added,
    skus_dropped,
    decisions.decision_ids,
    'demand: ' || demand_sources as signals
from overlap
left join sku_counts on sku_counts.family = overlap.family
left join decisions on decisions.family = overlap.family
