-- Method selection by measured error: the method each SKU x location series uses this cycle and
-- every candidate's rolling-origin backtest WAPE (sop_pipeline/analytics/methods.py), and what the
-- forecast used: the selected method, or, for a series the selection does not decide, the global
-- model between seasons, the family profile (new item) or nothing (inactive: 0). Every series the
-- cycle forecast has a row.
{%- set wape_columns = [
    'wape_lightgbm', 'wape_seasonal_naive', 'wape_exp_smoothing', 'wape_tsb', 'wape_combination',
    'wape_theta', 'wape_croston_sba', 'wape_adida', 'wape_combination_intermittent',
    'wape_theta_seasonal', 'wape_damped_trend', 'wape_ses_seasonal', 'wape_combination_median',
    'wape_seasonal_naive_trend', 'wape_combination_trend',
] %}
{%- set text = dbt.type_string() %}
with

selection as (

    select * from {{ source('analytics', 'forecast_method_selection') }}

),

forecast as (

    select
        sku,
        location,
        max(model) as model,
        max(method) as forecast_method,
        sum(units_p50) as forecast_units
    from {{ source('analytics', 'demand_forecast_location') }}
    where horizon_week >= 1
    group by sku, location

),

series as (

    select
        selection.cycle_id,
        selection.sku,
        selection.location,
        selection.method,
        selection.wape,
        selection.intermittency,
        selection.backtest_rows,
        selection.actual_units,
        {%- for c in wape_columns %}
        selection.{{ c }},
        {%- endfor %}
        selection.default_method,
        selection.margin,
        forecast.model,
        forecast.forecast_method,
        forecast.forecast_units
    from selection
    left join forecast on forecast.sku = selection.sku and forecast.location = selection.location

    union all

    -- forecast series the selection does not list (no backtest origin forecast them)
    select
        (select max(cycle_id) from selection) as cycle_id,
        forecast.sku,
        forecast.location,
        cast(null as {{ text }}) as method,
        cast(null as double precision) as wape,
        cast(null as {{ text }}) as intermittency,
        0 as backtest_rows,
        cast(null as double precision) as actual_units,
        {%- for c in wape_columns %}
        cast(null as double precision) as {{ c }},
        {%- endfor %}
        cast(null as {{ text }}) as default_method,
        cast(null as double precision) as margin,
        forecast.model,
        forecast.forecast_method,
        forecast.forecast_units
    from forecast
    where not exists (
        select 1 from selection where selection.sku = forecast.sku and selection.location = forecast.location
    )

),

final as (

    select
        cast(cycle_id as date) as cycle_id,
        sku,
        location,
        method,
        wape,
        intermittency,
        backtest_rows,
        actual_units,
        {%- for c in wape_columns %}
        {{ c }},
        {%- endfor %}
        default_method,
        margin,
        case when model = 'lightgbm' then 'selected' else model end as forecast_basis,
        forecast_method,
        forecast_units
    from series

)

select * from final
