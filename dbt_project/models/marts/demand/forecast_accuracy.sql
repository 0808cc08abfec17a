-- Forecast accuracy by family and lag, methods side by side (KPI_DEFINITIONS.md):
-- WAPE = sum|A - F| / sum A, MAPE = mean |A - F| / A over non-zero A, bias = sum(F - A) / sum A,
-- mix error = SKU-level WAPE - family-level WAPE. Errors are at SKU x week grain.
-- Sources: the rolling-origin backtest (methods lightgbm, lightgbm_sensed, sales_forecast,
-- seasonal_naive) and, as cycles accumulate, the stored forecasts of earlier real cycles
-- scored against what happened (method lightgbm_live).
with

backtest as (

    select * from {{ source('analytics', 'demand_backtest') }}

),

history as (

    select * from {{ source('analytics', 'forecast_history') }}

),

cycle as (

    select * from {{ source('meta', 'cycle') }}

),

demand as (

    select * from {{ ref('int_demand_weekly') }}

),

actuals as (

    select sku, week_start, sum(units) as actual_units
    from demand
    group by sku, week_start

),

scored_until as (

    select max(week_start) as last_week_start from demand

),

live as (

    select
        cast(history.cycle_id as date) as origin,
        history.sku,
        history.family,
        cast(history.week_start as date) as week_start,
        history.lag,
        'lightgbm_live' as method,
        history.units_p50 as forecast_units,
        coalesce(actuals.actual_units, 0) as actual_units
    from history
    cross join cycle
    cross join scored_until
    left join actuals
        on actuals.sku = history.sku
       and actuals.week_start = cast(history.week_start as date)
    where cast(history.cycle_id as date) < cycle.cycle_id
      and cast(history.week_start as date) <= scored_until.last_week_start

),

errors as (

    select
        cast(origin as date) as origin,
        sku,
        family,
        cast(week_start as date) as week_start,
        cast(lag as integer) as lag,
        method,
        forecast_units,
        actual_units
    from backtest
    union all
    select * from live

),

sku_level as (

    -- per family and, in the same pass, over all families (grouping set without family)
    select
        case when grouping(family) = 1 then 'All families' else family end as family,
        lag,
        method,
        avg(case when actual_units > 0 then abs(forecast_units - actual_units) / actual_units end) as mape,
        sum(abs(forecast_units - actual_units)) as abs_error,
        sum(forecast_units - actual_units) as error,
        sum(actual_units) as actual_units,
        count(distinct origin) as cycles
    from errors
    group by grouping sets ((family, lag, method), (lag, method))

),

family_weeks as (

    select
        origin,
        week_start,
        family,
        lag,
        method,
        abs(sum(forecast_units) - sum(actual_units)) as abs_error
    from errors
    group by origin, week_start, family, lag, method

),

family_level as (

    select
        case when grouping(family) = 1 then 'All families' else family end as family,
        lag,
        method,
        sum(abs_error) as family_abs_error
    from family_weeks
    group by grouping sets ((family, lag, method), (lag, method))

),

final as (

    select
        sku_level.family,
        sku_level.lag,
        sku_level.method,
        sku_level.mape,
        case when sku_level.actual_units > 0 then sku_level.abs_error / sku_level.actual_units end as wape,
        case when sku_level.actual_units > 0 then sku_level.error / sku_level.actual_units end as bias,
        case when sku_level.actual_units > 0
             then (sku_level.abs_error - family_level.family_abs_error) / sku_level.actual_units end as mix_error,
        sku_level.cycles
    from sku_level
    inner join family_level
        on family_level.family = sku_level.family
       and family_level.lag = sku_level.lag
       and family_level.method = sku_level.method

)

select * from final
