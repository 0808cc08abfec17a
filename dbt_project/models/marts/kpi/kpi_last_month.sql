-- "Last month in a meme": one row per KPI for the last complete month, with the month before,
-- the target (or plan) and the trend. Revenue is compared with finance's revenue plan.
{%- set t = var('kpi_targets') %}
with

scorecard as (

    select * from {{ ref('kpi_scorecard') }}
    where grain = 'month' and periods_ago in (1, 2)

),

sales as (

    select * from {{ ref('int_sales_daily') }}

),

revenue_plan as (

    select * from {{ ref('stg_finance__revenue_plan') }}

),

months as (

    select period_start, periods_ago from {{ ref('int_cycle_periods') }}
    where grain = 'month' and periods_ago in (1, 2)

),

revenue as (

    select
        months.periods_ago,
        (select sum(sales.revenue) from sales where sales.month_start = months.period_start) as actual,
        (select sum(revenue_plan.revenue) from revenue_plan where revenue_plan.month_start = months.period_start)
            as planned
    from months

),

scorecard_kpis as (

    select
        cur.kpi,
        cur.area,
        cur.period_start as month_start,
        cur.value,
        prior.value as prior_month_value,
        cur.target,
        cur.unit,
        cur.higher_is_better
    from scorecard cur
    left join scorecard prior on prior.kpi = cur.kpi and prior.periods_ago = 2
    where cur.periods_ago = 1
      and cur.kpi in ('fill_rate_pct', 'otif_pct', 'inventory_turns', 'expedite_usd', 'scrap_pct')

),

revenue_kpis as (

    select
        'revenue' as kpi, 'finance' as area,
        (select period_start from months where periods_ago = 1) as month_start,
        cur.actual as value, prior.actual as prior_month_value, cur.planned as target,
        'currency' as unit, true as higher_is_better
    from revenue cur cross join revenue prior
    where cur.periods_ago = 1 and prior.periods_ago = 2

    union all

    select
        'revenue_vs_plan_pct', 'finance',
        (select period_start from months where periods_ago = 1),
        100.0 * (cur.actual - cur.planned) / nullif(cur.planned, 0),
        100.0 * (prior.actual - prior.planned) / nullif(prior.planned, 0),
        {{ t.revenue_vs_plan_pct }}, '%', true
    from revenue cur cross join revenue prior
    where cur.periods_ago = 1 and prior.periods_ago = 2

),

final as (

    select
        kpi,
        area,
        month_start,
        value,
        prior_month_value,
        target,
        unit,
        case
            when value is null or prior_month_value is null then 'n/a'
            when abs(value - prior_month_value) <= 0.005 * abs(prior_month_value) then 'flat'
            when value > prior_month_value then 'up'
            else 'down'
        end as trend,
        case
            when value is null or prior_month_value is null
                 or abs(value - prior_month_value) <= 0.005 * abs(prior_month_value) then null
            else (value > prior_month_value) = higher_is_better
        end as trend_is_good,
        case
            when value is null or target is null then null
            when higher_is_better then value >= target
            else value <= target
        end as on_target
    from (select * from scorecard_kpis union all select * from revenue_kpis) kpis

)

select * from final
