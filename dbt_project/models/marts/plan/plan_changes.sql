-- What changed in the plan of record vs the previous cycle, by family, and why: the decisions
-- that touched the family's rows this cycle and the demand signals behind the new numbers.
-- Compared over the weeks both plans cover. Empty on the first cycle.
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

overlap as (

    select
        cur.family,
        sum(cur.demand_units) as units_now,
        sum(prev.demand_units) as units_before,
        sum(cur.revenue) as revenue_now,
        sum(prev.revenue) as revenue_before,
        {{ dbt.listagg('distinct cur.demand_source', "', '", 'order by cur.demand_source') }} as demand_sources
    from cur
    inner join prev on prev.sku = cur.sku and cast(prev.week_start as date) = cur.week_start
    group by cur.family

),

-- each decision once per family (a row's decision_ids is itself a comma-separated list)
row_decisions as (

    select distinct split.family, trim(split.decision_id) as decision_id
    from (
        select cur.family, {{ split_to_rows('cur.decision_ids') }} as decision_id
        from cur
        inner join prev on prev.sku = cur.sku and cast(prev.week_start as date) = cur.week_start
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
    decisions.decision_ids,
    'demand: ' || demand_sources as signals
from overlap
left join decisions on decisions.family = overlap.family
