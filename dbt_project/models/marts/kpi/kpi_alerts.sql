-- Alerts for the meeting. The seed's pro tip: "if service is low and inventory is high, your
-- couple isn't communicating" -> service_low_inventory_high per family when, in the last
-- complete month, the family's OTIF is below target while its days of supply are above target.
-- Days of supply count every lot on the books; where expired lots awaiting write-off make up the
-- excess, the message says so instead of blaming the mix.
-- Plus: any last-month KPI off target, and expedite spend growing faster than the threshold.
{%- set t = var('kpi_targets') %}
with

month as (

    select period_start, period_end from {{ ref('int_cycle_periods') }}
    where grain = 'month' and periods_ago = 1

),

order_lines as (

    select * from {{ ref('int_order_lines_service') }}

),

sales as (

    select * from {{ ref('int_sales_daily') }}

),

inventory as (

    select * from {{ ref('int_inventory_snapshots') }}

),

last_month as (

    select * from {{ ref('kpi_last_month') }}

),

family_otif as (

    select
        order_lines.family,
        100.0 * avg(case when order_lines.is_otif then 1.0 else 0.0 end) as otif_pct,
        count(*) as order_lines
    from order_lines
    cross join month
    where order_lines.promised_date between month.period_start and month.period_end
    group by order_lines.family

),

family_cogs as (

    -- average daily COGS over the 90 days to the month end
    select sales.family, sum(sales.cogs) / 90.0 as daily_cogs
    from sales
    cross join month
    where sales.sales_date > {{ dbt.dateadd('day', -90, 'month.period_end') }}
      and sales.sales_date <= month.period_end
    group by sales.family

),

family_inventory as (

    select
        inventory.family,
        sum(inventory.on_hand_value) as inventory_value,
        sum(inventory.expired_value) as expired_value
    from inventory
    where inventory.snapshot_date = (
        select max(i.snapshot_date) from inventory i cross join month where i.snapshot_date <= month.period_end)
    group by inventory.family

),

family_health as (

    select
        family_otif.family,
        family_otif.otif_pct,
        family_inventory.inventory_value,
        family_inventory.inventory_value / nullif(family_cogs.daily_cogs, 0) as days_of_supply,
        coalesce(family_inventory.expired_value, 0) as expired_value,
        coalesce(family_inventory.expired_value, 0) / nullif(family_cogs.daily_cogs, 0) as expired_days
    from family_otif
    left join family_cogs on family_cogs.family = family_otif.family
    left join family_inventory on family_inventory.family = family_otif.family

),

service_low_inventory_high as (

    select
        'service_low_inventory_high' as alert,
        family as subject,
        family,
        'high' as severity,
        otif_pct as value,
        {{ t.otif_pct }} as threshold,
        'Service low and inventory high: ' || family || ' OTIF ' || {{ round_to_text("otif_pct", 1) }}
            || '% (target {{ t.otif_pct }}%) with ' || {{ round_to_text("days_of_supply", 0) }}
            || ' days of supply (target at most {{ t.days_of_supply }}). '
            || case
                   when expired_days >= 1 and days_of_supply - expired_days <= {{ t.days_of_supply }}
                       then cast(cast(round(expired_days) as bigint) as {{ dbt.type_string() }}) || ' of those days are expired lots ('
                           || cast(cast(round(expired_value) as bigint) as {{ dbt.type_string() }}) || ' at cost) awaiting write-off: without '
                           || 'them the family holds ' || cast(cast(round(days_of_supply - expired_days) as bigint) as {{ dbt.type_string() }})
                           || ' days, within target. Write the expired stock off; the mix is not the cause.'
                   when expired_days >= 1
                       then cast(cast(round(expired_days) as bigint) as {{ dbt.type_string() }}) || ' of those days are expired lots ('
                           || cast(cast(round(expired_value) as bigint) as {{ dbt.type_string() }}) || ' at cost) awaiting write-off; without '
                           || 'them still ' || cast(cast(round(days_of_supply - expired_days) as bigint) as {{ dbt.type_string() }})
                           || ' days. Inventory is not buying service: check the mix (wrong SKUs in stock) '
                           || 'before adding more.'
                   else 'Inventory is not buying service: check the mix (wrong SKUs in stock) before adding more.'
               end as message
    from family_health
    where otif_pct < {{ t.otif_pct }} and days_of_supply > {{ t.days_of_supply }}

),

off_target as (

    select
        'kpi_off_target' as alert,
        kpi as subject,
        'ALL' as family,
        case when kpi in ('otif_pct', 'fill_rate_pct', 'revenue_vs_plan_pct') then 'high' else 'medium' end
            as severity,
        value,
        target as threshold,
        kpi || ' was ' || {{ round_to_text("value", 2) }} || ' last month against a target of '
            || {{ round_to_text("target", 2) }} || ' (trend: ' || trend || ').' as message
    from last_month
    where on_target = false and kpi <> 'revenue'

),

expedite_growth as (

    select
        'expedite_growth' as alert,
        'expedite_usd' as subject,
        'ALL' as family,
        'medium' as severity,
        100.0 * (value - prior_month_value) / nullif(prior_month_value, 0) as value,
        {{ t.expedite_growth_pct }} as threshold,
        'Expedite spend grew ' || {{ round_to_text("100.0 * (value - prior_month_value) / nullif(prior_month_value, 0)", 0) }} || '% month over month (threshold {{ t.expedite_growth_pct }}%).' as message
    from last_month
    where kpi = 'expedite_usd'
      and 100.0 * (value - prior_month_value) / nullif(prior_month_value, 0) > {{ t.expedite_growth_pct }}

),

final as (

    select
        alert || ':' || subject as alert_id,
        alerts.*,
        (select period_start from month) as month_start
    from (
        select * from service_low_inventory_high
        union all select * from off_target
        union all select * from expedite_growth
    ) alerts

)

select * from final
