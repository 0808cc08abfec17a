-- Demand review inputs for the meeting, one row per item to discuss:
--   top_mover_vs_last_cycle: largest changes of the 13-week forecast vs the previous cycle's
--     forecast for the same weeks (analytics.forecast_history), up and down (5 each); before the
--     pipeline has a forecast of its own from an earlier cycle (its first run), this plan of
--     record's demand vs the demand of the last plan of record in the plan_history extract (the
--     last meeting's agreed demand), like with like; `detail` names the comparison and its weeks;
--   top_mover_vs_last_year: largest changes of the 13-week forecast vs actual demand in the same
--     13 weeks a year earlier, up and down (5 each);
--   promotion: promotions overlapping the horizon;
--   lost_deal / new_win: CRM opportunities closed (lost / won) since the last cycle: expected
--     (close) date after the previous cycle (the latest earlier cycle in forecast_history, else in
--     the plan_history extract, else as-of - 7 days) and up to the horizon end; window_start says
--     where the window starts;
--   open_deal: open deals with probability >= 50% expected in the last 13 weeks or the horizon.
with

cycle as (

    select * from {{ source('meta', 'cycle') }}

),

forecast as (

    select sku, family, cast(week_start as date) as week_start, units_p50, revenue
    from {{ source('analytics', 'demand_forecast') }}
    where horizon_week between 1 and 13

),

history as (

    select * from {{ source('analytics', 'forecast_history') }}

),

previous_cycle as (

    select max(history.cycle_id) as cycle_id
    from history cross join cycle
    where history.cycle_id < cycle.as_of

),

-- the last meeting's plan of record from the plan_history extract (plans published before this
-- pipeline kept its own history): the previous cycle on a first run
plan_extract as (

    select * from {{ ref('stg_sop__plan_history') }}

),

previous_plan as (

    select max(plan_extract.cycle_id) as cycle_id
    from plan_extract cross join cycle
    where plan_extract.cycle_id < cycle.as_of

),

-- lost deals and new wins are news since the last cycle: the previous cycle in history, else the
-- last plan in the extract, else a week before the as-of (the weekly cycle)
deal_window as (

    select coalesce(
        cast(previous_cycle.cycle_id as date),
        previous_plan.cycle_id,
        cast({{ dbt.dateadd('day', -7, 'cycle.as_of') }} as date)
    ) as window_start
    from cycle cross join previous_cycle cross join previous_plan

),

-- what is compared with what, like with like: this cycle's statistical forecast with the previous
-- cycle's (forecast_history), else (no snapshot of an earlier cycle yet) this cycle's plan-of-record
-- demand with the demand of the last plan of record in the extract, over the weeks both cover
before_cycle as (

    select
        'forecast' as kind,
        history.sku,
        cast(history.week_start as date) as week_start,
        history.units_p50 as units,
        'forecast vs the forecast of ' || cast(cast(history.cycle_id as date) as {{ dbt.type_string() }}) as basis
    from history
    inner join previous_cycle on history.cycle_id = previous_cycle.cycle_id

    union all

    select
        'plan',
        plan_extract.sku,
        plan_extract.week_start,
        plan_extract.demand_units,
        'plan-of-record demand vs the plan of record of '
            || cast(plan_extract.cycle_id as {{ dbt.type_string() }})
    from plan_extract
    inner join previous_plan on plan_extract.cycle_id = previous_plan.cycle_id
    cross join previous_cycle
    where previous_cycle.cycle_id is null

),

now_cycle as (

    select 'forecast' as kind, sku, family, week_start, units_p50 as units from forecast

    union all

    select 'plan', plan.sku, plan.family, cast(plan.week_start as date), plan.demand_units
    from {{ source('plan_outputs', 'plan_of_record') }} plan

),

vs_cycle as (

    select
        now_cycle.sku,
        now_cycle.family,
        sum(now_cycle.units) as units_now,
        sum(before_cycle.units) as units_before,
        max(before_cycle.basis) || ', the ' || cast(count(*) as {{ dbt.type_string() }}) || ' weeks both cover'
            as basis
    from now_cycle
    inner join before_cycle
        on before_cycle.kind = now_cycle.kind
        and before_cycle.sku = now_cycle.sku
        and before_cycle.week_start = now_cycle.week_start
    group by now_cycle.sku, now_cycle.family

),

last_year as (

    select demand.sku, sum(demand.units) as units_last_year
    from {{ ref('int_demand_weekly') }} demand
    cross join cycle
    where demand.week_start between {{ dbt.dateadd('week', -52, 'cycle.week1_start') }}
                                and {{ dbt.dateadd('week', -40, 'cycle.week1_start') }}
    group by demand.sku

),

vs_year as (

    select forecast.sku, forecast.family, sum(forecast.units_p50) as units_now,
           max(last_year.units_last_year) as units_before,
           'forecast vs actual demand of the same 13 weeks a year earlier' as basis
    from forecast
    inner join last_year on last_year.sku = forecast.sku
    group by forecast.sku, forecast.family

),

movers as (

    select 'top_mover_vs_last_cycle' as item, sku, family, units_before, units_now, basis from vs_cycle
    union all
    select 'top_mover_vs_last_year', sku, family, units_before, units_now, basis from vs_year

),

ranked_movers as (

    select
        *,
        units_now - units_before as units_change,
        row_number() over (partition by item, units_now >= units_before
                           order by abs(units_now - units_before) desc, sku) as rank_in_direction
    from movers

),

promotions as (

    select
        'promotion' as item,
        promo.sku,
        items.family,
        promo.promo_id as reference,
        promo.start_date as date_from,
        promo.end_date as date_to,
        promo.expected_units as units,
        'promo ' || promo.promo_id || ' at ' || coalesce(promo.location_or_customer, 'ALL') || ', '
            || {{ round_to_text("100 * promo.discount_pct", 0) }} || '% off' as detail
    from {{ ref('stg_crm__promotions') }} promo
    inner join {{ ref('stg_erp__items') }} items on items.sku = promo.sku
    cross join cycle
    where promo.end_date >= cycle.week1_start and promo.start_date <= cycle.horizon_end

),

deals as (

    select
        case when opp.status = 'lost' then 'lost_deal' when opp.status = 'won' then 'new_win' else 'open_deal' end
            as item,
        opp.sku_or_family as sku,
        coalesce(items.family, opp.sku_or_family) as family,
        opp.opportunity_id as reference,
        opp.expected_date as date_from,
        opp.expected_date as date_to,
        opp.qty as units,
        opp.customer_id || ': ' || opp.status || ', probability '
            || {{ round_to_text("100 * opp.probability", 0) }} || '%' as detail,
        deal_window.window_start
    from {{ ref('stg_crm__opportunities') }} opp
    left join {{ ref('stg_erp__items') }} items on items.sku = opp.sku_or_family
    cross join cycle
    cross join deal_window
    where opp.expected_date <= cycle.horizon_end
      and (
          (opp.status = 'open' and opp.probability >= 0.5
           and opp.expected_date > {{ dbt.dateadd('week', -13, 'cycle.as_of') }})
          or (opp.status <> 'open' and opp.expected_date > deal_window.window_start)
      )

)

select
    item,
    sku,
    family,
    cast(null as {{ dbt.type_string() }}) as reference,
    cast(null as date) as date_from,
    cast(null as date) as date_to,
    units_now as units,
    units_before,
    units_change,
    case when units_change >= 0 then 'up' else 'down' end as direction,
    cast(basis as {{ dbt.type_string() }}) as detail,
    cast(null as date) as window_start
from ranked_movers
where rank_in_direction <= 5

union all

select item, sku, family, reference, date_from, date_to, units, null, null, null, detail, null from promotions

union all

select item, sku, family, reference, date_from, date_to, units, null, null, null, detail, window_start from deals
