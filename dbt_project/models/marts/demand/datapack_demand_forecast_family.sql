{%- set low = "(units_p50 - units_p10)" -%}
{%- set high = "(units_p90 - units_p50)" -%}
{%- set low_spread = "sqrt(0.75 * sum(" ~ low ~ " * " ~ low ~ ") + 0.25 * sum(" ~ low ~ ") * sum(" ~ low ~ "))" -%}
{%- set high_spread = "sqrt(0.75 * sum(" ~ high ~ " * " ~ high ~ ") + 0.25 * sum(" ~ high ~ ") * sum(" ~ high ~ "))" -%}
-- The 13-week forecast rolled up to family. p50, revenue and sensed units add up; the SKU
-- p10/p90 spreads s combine with an error correlation of 0.25 (the rule of
-- sop_pipeline.analytics.forecasting.rollup): spread = sqrt(0.75 sum s^2 + 0.25 (sum s)^2).
with

sku as (

    select * from {{ ref('datapack_demand_forecast') }}

),

final as (

    select
        family,
        week_start,
        horizon_week,
        case
            when sum(units_p50) - {{ low_spread }} > 0
            then sum(units_p50) - {{ low_spread }}
            else 0
        end as units_p10,
        sum(units_p50) as units_p50,
        sum(units_p50) + {{ high_spread }} as units_p90,
        sum(revenue) as revenue,
        sum(sensed_units) as sensed_units,
        count(*) as skus
    from sku
    group by family, week_start, horizon_week

)

select * from final
