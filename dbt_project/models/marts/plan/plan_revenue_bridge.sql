-- One revenue story over the 13-week horizon: demand forecast -> plan of record -> finance plan.
-- Forecast and plan share one price basis: the forecast's selling price (the series' last
-- non-promotion price, times (1 - discount) in promotion weeks); the plan falls back to the item
-- master's list price only where the forecast has no units. Finance has its own monthly plan.
-- Each step says why the next figure differs; the steps add up exactly to the totals.
with

forecast as (

    select sku, week_start, sum(units_p50) as units, sum(revenue) as revenue
    from {{ ref('datapack_demand_forecast') }}
    where horizon_week between 1 and 13
    group by sku, week_start

),

plan as (

    select sku, cast(week_start as date) as week_start, sum(demand_units) as units, sum(revenue) as revenue
    from {{ ref('plan_of_record') }}
    group by sku, cast(week_start as date)

),

promo_weeks as (

    select distinct promo.sku, forecast.week_start
    from {{ ref('stg_crm__promotions') }} promo
    inner join forecast
        on forecast.sku = promo.sku
       and promo.start_date <= {{ dbt.dateadd('day', 6, 'forecast.week_start') }}
       and promo.end_date >= forecast.week_start

),

sku_weeks as (

    select
        coalesce(plan.sku, forecast.sku) as sku,
        coalesce(plan.week_start, forecast.week_start) as week_start,
        coalesce(forecast.units, 0) as units_forecast,
        coalesce(forecast.revenue, 0) as revenue_forecast,
        coalesce(plan.units, 0) as units_plan,
        coalesce(plan.revenue, 0) as revenue_plan,
        -- the forecast's own price where it has one, else the plan's (no price effect)
        coalesce(forecast.revenue / nullif(forecast.units, 0), plan.revenue / nullif(plan.units, 0), 0)
            as price_forecast
    from plan
    full outer join forecast on forecast.sku = plan.sku and forecast.week_start = plan.week_start

),

effects as (

    select
        sku_weeks.*,
        (units_plan - units_forecast) * price_forecast as volume_effect,
        revenue_plan - revenue_forecast - (units_plan - units_forecast) * price_forecast as price_effect,
        promo_weeks.sku is not null as is_promo_week
    from sku_weeks
    left join promo_weeks on promo_weeks.sku = sku_weeks.sku and promo_weeks.week_start = sku_weeks.week_start

),

finance as (

    select revenue_finance_plan, revenue_plan_of_record, price_effect, volume_effect, mix_effect
    from {{ ref('plan_reconciliation') }}
    where period = 'horizon' and level = 'total'

),

steps as (

    select 1 as step_order, 'forecast' as step, 'total' as kind, sum(revenue_forecast) as amount,
           'Demand forecast (p50) x its selling price: the last non-promotion price of each series, '
           || 'less the discount in promotion weeks' as description
    from effects
    union all
    select 2, 'volume', 'effect', sum(volume_effect),
           'Plan units (consensus, sensing and decisions) minus forecast units, at the forecast price'
    from effects
    union all
    select 3, 'price_promotion_weeks', 'effect', sum(case when is_promo_week then price_effect else 0 end),
           'SKU-weeks with a promotion: plan price vs forecast price (0 when both use the forecast '
           || 'price; list price where the forecast has no units)'
    from effects
    union all
    select 4, 'price_other_weeks', 'effect', sum(case when is_promo_week then 0 else price_effect end),
           'Other SKU-weeks: plan price vs forecast price (list price only where the forecast has no units)'
    from effects
    union all
    select 5, 'plan_of_record', 'total', sum(revenue_plan),
           'Plan of record: plan units x selling price (plan_of_record.selling_price)'
    from effects
    union all
    select 6, 'finance_price', 'effect', -price_effect,
           'Finance plan vs plan of record: price (plan_reconciliation, sign reversed)'
    from finance
    union all
    select 7, 'finance_volume', 'effect', -volume_effect,
           'Finance plan vs plan of record: volume (plan_reconciliation, sign reversed)'
    from finance
    union all
    select 8, 'finance_mix', 'effect', -mix_effect,
           'Finance plan vs plan of record: family mix (plan_reconciliation, sign reversed)'
    from finance
    union all
    select 9, 'finance_plan', 'total', revenue_finance_plan,
           'Finance revenue plan over the same days (months pro-rated)'
    from finance

)

select * from steps
