-- Demand review inputs for the meeting, one row per item to discuss:
--   top_mover_vs_last_cycle: largest changes of the 13-week forecast vs the previous cycle's
--     forecast for the same weeks (analytics.forecast_history), up and down (5 each);
--   top_mover_vs_last_year: largest changes of the 13-week forecast vs actual demand in the same
--     13 weeks a year earlier, up and down (5 each);
--   promotion: promotions overlapping the horizon;
--   lost_deal / new_win: CRM opportunities closed (lost / won) since the last cycle: expected
--     (close) date after the previous cycle (the latest earlier cycle in forecast_history, else
--     as-of - 7 days) and up to the horizon end; window_start says where the window starts;
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

-- lost deals and new wins are news since the last cycle: the previous cycle in history, else a
-- week before the as-of (the weekly cycle)
deal_window as (

    select coalesce(cast(previous_cycle.cycle_id as date), cast({{ dbt.dateadd('day', -7, 'cycle.as_of') }} as date))
        as window_start
    from cycle cross join previous_cycle

),

vs_cycle as (

    select
        forecast.sku,
        forecast.family,
        sum(forecast.units_p50) as units_now,
        sum(history.units_p50) as units_before
    from forecast
    inner join history
        on history.sku = forecast.sku and history.week_start = forecast.week_start
    inner join previous_cycle on history.cycle_id = previous_cycle.cycle_id
    group by forecast.sku, forecast.family

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
           max(last_year.units_last_year) as units_before
    from forecast
    inner join last_year on last_year.sku = forecast.sku
    group by forecast.sku, forecast.family

),

movers as (

    select 'top_mover_vs_last_cycle' as item, sku, family, units_before, units_now from vs_cycle
    union all
    select 'top_mover_vs_last_year', sku, family, units_before, units_now from vs_year

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
    cast(null as {{ dbt.type_string() }}) as detail,
    cast(null as date) as window_start
from ranked_movers
where rank_in_direction <= 5

union all

select item, sku, family, reference, date_from, date_to, units, null, null, null, detail, null from promotions

union all

select item, sku, family, reference, date_from, date_to, units, null, null, null, detail, window_start from deals
