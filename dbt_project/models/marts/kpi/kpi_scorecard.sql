-- The KPI couple's-therapy scorecard: one row per period x KPI, weekly for the last 26
-- complete weeks and monthly for the last 13 complete months. Definitions: KPI_DEFINITIONS.md
-- and this model's YAML. Periods with no data for a KPI have a null value (not zero).
{%- set t = var('kpi_targets') %}
with

periods as (

    select * from {{ ref('int_cycle_periods') }}

),

cycle as (

    select * from {{ source('meta', 'cycle') }}

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

production_orders as (

    select * from {{ ref('stg_mes__production_orders') }}

),

schedule_changes as (

    select * from {{ ref('stg_mes__schedule_changes') }}

),

expedites as (

    select * from {{ ref('stg_erp__expedites') }}

),

items as (

    select * from {{ ref('stg_erp__items') }}

),

a_items as (

    select sku from {{ source('inventory_outputs', 'abc_xyz') }} where abc = 'A'

),

-- an A item is "sold at" a location when it had POS there in the 52 weeks to the as-of date
a_item_locations as (

    select distinct pos.location, pos.sku
    from {{ ref('stg_pos__pos_sales') }} pos
    cross join cycle
    inner join a_items on a_items.sku = pos.sku
    inner join items on items.sku = pos.sku
    where pos.sales_date > {{ dbt.dateadd('day', -364, 'cycle.as_of') }}
      and items.lifecycle <> 'phase_out'

),

snapshot_locations as (

    select distinct snapshot_date, location from inventory

),

otif as (

    select
        periods.grain, periods.period_start,
        'otif_pct' as kpi,
        100.0 * avg(case when order_lines.is_otif then 1.0 else 0.0 end) as value
    from periods
    cross join cycle
    inner join order_lines
        on order_lines.promised_date between periods.period_start and periods.period_end
       and order_lines.promised_date <= cycle.as_of
    group by periods.grain, periods.period_start

),

fill_rate as (

    select
        periods.grain, periods.period_start,
        'fill_rate_pct' as kpi,
        100.0 * avg(case when order_lines.is_shipped_complete_on_time then 1.0 else 0.0 end) as value
    from periods
    cross join cycle
    inner join order_lines
        on order_lines.requested_date between periods.period_start and periods.period_end
       and order_lines.requested_date <= cycle.as_of
    group by periods.grain, periods.period_start

),

adherence as (

    select
        periods.grain, periods.period_start,
        'schedule_adherence_pct' as kpi,
        100.0 * avg(case when production_orders.status = 'completed'
                          and production_orders.actual_end < {{ dbt.dateadd('day', 7, 'production_orders.week_start') }}
                          and abs(production_orders.good_qty - production_orders.planned_qty)
                              <= 0.05 * production_orders.planned_qty
                         then 1.0 else 0.0 end) as value
    from periods
    cross join cycle
    inner join production_orders
        on production_orders.week_start between periods.period_start and periods.period_end
       and {{ dbt.dateadd('day', 6, 'production_orders.week_start') }} <= cycle.as_of
       and production_orders.status <> 'cancelled'
    group by periods.grain, periods.period_start

),

reschedules as (

    select
        periods.grain, periods.period_start,
        'reschedules_per_week' as kpi,
        -- a monthly value is the average per week of that month
        count(schedule_changes.order_id) * 7.0
            / ({{ dbt.datediff('periods.period_start', 'periods.period_end', 'day') }} + 1) as value
    from periods
    left join schedule_changes
        on cast(schedule_changes.changed_at as date) between periods.period_start and periods.period_end
    group by periods.grain, periods.period_start, periods.period_end

),

scrap as (

    select
        periods.grain, periods.period_start,
        'scrap_pct' as kpi,
        100.0 * sum(production_orders.scrap_qty)
            / nullif(sum(production_orders.good_qty + production_orders.scrap_qty), 0) as value
    from periods
    inner join production_orders
        on cast(production_orders.actual_end as date) between periods.period_start and periods.period_end
    group by periods.grain, periods.period_start

),

expedite as (

    select
        periods.grain, periods.period_start,
        'expedite_usd' as kpi,
        coalesce(sum(case when expedites.is_approved then expedites.cost end), 0) as value
    from periods
    left join expedites
        on expedites.expedite_date between periods.period_start and periods.period_end
    group by periods.grain, periods.period_start

),

-- turns at each period end: COGS of the 12 months before it / average inventory value at cost
-- over the snapshots of those 12 months. The date-range joins run on one row per day (COGS) and
-- per snapshot (inventory value), not on the SKU rows: PostgreSQL evaluates a range join as a
-- nested loop, and periods x SKU-days was ~40x the rows at large.
cogs_daily as (

    select sales_date, sum(cogs) as cogs
    from sales
    group by sales_date

),

cogs_12m as (

    select periods.grain, periods.period_start, sum(cogs_daily.cogs) as cogs
    from periods
    inner join cogs_daily
        on cogs_daily.sales_date > {{ dbt.dateadd('month', -12, 'periods.period_end') }}
       and cogs_daily.sales_date <= periods.period_end
    group by periods.grain, periods.period_start

),

inventory_value_by_snapshot as (

    select snapshot_date, sum(on_hand_value) as total_value
    from inventory
    group by snapshot_date

),

inventory_12m as (

    select periods.grain, periods.period_start, avg(snapshots.total_value) as avg_inventory_value
    from periods
    inner join inventory_value_by_snapshot snapshots
        on snapshots.snapshot_date > {{ dbt.dateadd('month', -12, 'periods.period_end') }}
       and snapshots.snapshot_date <= periods.period_end
    group by periods.grain, periods.period_start

),

turns as (

    select
        cogs_12m.grain, cogs_12m.period_start,
        'inventory_turns' as kpi,
        cogs_12m.cogs / nullif(inventory_12m.avg_inventory_value, 0) as value
    from cogs_12m
    inner join inventory_12m
        on inventory_12m.grain = cogs_12m.grain and inventory_12m.period_start = cogs_12m.period_start

),

-- (A SKU, location, week) with zero available stock on the week-end snapshot
a_item_stockouts as (

    select
        periods.grain, periods.period_start,
        'a_item_stockouts' as kpi,
        sum(case when coalesce(inventory.available_units, 0) <= 0 then 1 else 0 end) as value
    from periods
    inner join snapshot_locations
        on snapshot_locations.snapshot_date between periods.period_start and periods.period_end
    inner join a_item_locations on a_item_locations.location = snapshot_locations.location
    left join inventory
        on inventory.snapshot_date = snapshot_locations.snapshot_date
       and inventory.location = a_item_locations.location
       and inventory.sku = a_item_locations.sku
    group by periods.grain, periods.period_start

),

-- E&O $ at the last inventory snapshot of each period: obsolete stock (phase-out items, no
-- demand in the 26 weeks before, expired lots) + stock above 26 weeks of the trailing 26 weeks'
-- demand, at unit cost. (Past forecasts and safety stocks are not kept, so the trend uses the
-- demand run-rate; datapack_eo values the current cycle with the forecast and safety stock.)
eo_snapshot as (

    select periods.grain, periods.period_start, max(inventory.snapshot_date) as snapshot_date
    from periods
    inner join inventory on inventory.snapshot_date between periods.period_start and periods.period_end
    group by periods.grain, periods.period_start

),

eo_stock as (

    select
        eo_snapshot.grain, eo_snapshot.period_start, lots.sku,
        sum(lots.qty) as units,
        sum(case when lots.expiry_date <= lots.snapshot_date then lots.qty else 0 end) as expired_units
    from eo_snapshot
    inner join {{ ref('stg_erp__inventory_lots') }} lots on lots.snapshot_date = eo_snapshot.snapshot_date
    group by eo_snapshot.grain, eo_snapshot.period_start, lots.sku

),

-- demand per SKU and week (all locations) before the range join with the snapshots
demand_by_sku_week as (

    select sku, week_start, sum(units) as units
    from {{ ref('int_demand_weekly') }}
    group by sku, week_start

),

eo_run_rate as (

    select eo_snapshot.grain, eo_snapshot.period_start, demand.sku, sum(demand.units) / 26.0 as weekly_units
    from eo_snapshot
    inner join demand_by_sku_week demand
        on demand.week_start > {{ dbt.dateadd('day', -182, 'eo_snapshot.snapshot_date') }}
       and demand.week_start <= eo_snapshot.snapshot_date
    group by eo_snapshot.grain, eo_snapshot.period_start, demand.sku

),

-- BOM components: their use is dependent demand (the parents' production), not in the demand
-- history, so in the trend only their expired lots count
bom_components as (

    select distinct component_sku as sku from {{ ref('stg_erp__bom') }}

),

eo_value as (

    select
        eo_stock.grain, eo_stock.period_start,
        'eo_value' as kpi,
        sum(items.unit_cost * case
            when bom_components.sku is not null and coalesce(eo_run_rate.weekly_units, 0) = 0
                 and items.lifecycle <> 'phase_out' then eo_stock.expired_units
            when items.lifecycle = 'phase_out' or coalesce(eo_run_rate.weekly_units, 0) = 0 then eo_stock.units
            else eo_stock.expired_units
                 + greatest(eo_stock.units - eo_stock.expired_units - 26 * eo_run_rate.weekly_units, 0)
        end) as value
    from eo_stock
    inner join items on items.sku = eo_stock.sku
    left join bom_components on bom_components.sku = eo_stock.sku
    left join eo_run_rate
        on eo_run_rate.grain = eo_stock.grain and eo_run_rate.period_start = eo_stock.period_start
       and eo_run_rate.sku = eo_stock.sku
    group by eo_stock.grain, eo_stock.period_start

),

-- the declared constraint (resources.is_constraint) and the measured bottleneck: the resource the
-- capacity view (datapack_capacity, 13-week horizon) marks the bottleneck in most weeks, then the
-- highest peak load. They may differ (the demo declares machine M1, the load lands on tooling T1).
declared_constraint as (

    select resource_id, resource_type from {{ ref('stg_mes__resources') }} where is_constraint

),

measured_bottleneck as (

    select resource_id, resource_type
    from (
        select
            capacity.resource_id,
            max(capacity.type) as resource_type,
            -- casts: with no routings the capacity output is empty and its columns untyped
            row_number() over (order by sum(case when cast(capacity.is_bottleneck as boolean) then 1 else 0 end) desc,
                                        max(cast(capacity.load_pct as {{ type_double() }})) desc,
                                        capacity.resource_id) as pick
        from {{ ref('datapack_capacity') }} capacity
        group by capacity.resource_id
    ) ranked
    where pick = 1

),

resource_time as (

    select * from {{ ref('stg_mes__resource_time') }}

),

-- OEE is measured on equipment: a bottleneck with no MES time of its own (tooling, a labour pool)
-- is read through the machines its routed SKUs run on, i.e. the equipment time it was used in.
bottleneck_oee_sources as (

    select resource_id from measured_bottleneck
    where resource_id in (select resource_id from resource_time)
    union
    select distinct other.resource_id
    from measured_bottleneck
    inner join {{ ref('stg_mes__routings') }} routed on routed.resource_id = measured_bottleneck.resource_id
    inner join {{ ref('stg_mes__routings') }} other
        on other.sku = routed.sku and other.resource_id <> routed.resource_id
    where measured_bottleneck.resource_id not in (select resource_id from resource_time)
      and other.resource_id in (select resource_id from resource_time)

),

kpi_subjects as (

    select
        'oee_constraint_pct' as kpi,
        {{ dbt.listagg('resource_id', "', '", 'order by resource_id') }} as resource_id,
        'declared constraint ' || {{ dbt.listagg('resource_id', "', '", 'order by resource_id') }} as subject
    from declared_constraint
    having count(*) > 0
    union all
    select
        'oee_bottleneck_pct',
        measured_bottleneck.resource_id,
        'measured bottleneck ' || measured_bottleneck.resource_id || ' (' || measured_bottleneck.resource_type || ')'
            || case when measured_bottleneck.resource_id in (select resource_id from resource_time) then ''
                    when max(sources.resource_id) is null then ': no OEE data (not in resource_time)'
                    else ': OEE of ' || {{ dbt.listagg('sources.resource_id', "', '", 'order by sources.resource_id') }}
                         || ', the machines its routed SKUs run on (no MES time of its own)' end
    from measured_bottleneck
    left join bottleneck_oee_sources sources on true
    group by measured_bottleneck.resource_id, measured_bottleneck.resource_type
    union all
    select
        'changeover_vs_plan_pct',
        {{ dbt.listagg('resource_id', "', '", 'order by resource_id') }},
        'declared constraint ' || {{ dbt.listagg('resource_id', "', '", 'order by resource_id') }}
    from declared_constraint
    having count(*) > 0

),

-- OEE: hours summed over the period first, ratios after (as analytics.oee)
oee_resources as (

    select 'oee_constraint_pct' as kpi, resource_id from declared_constraint
    union all
    select 'oee_bottleneck_pct', resource_id from bottleneck_oee_sources

),

resource_oee as (

    select
        periods.grain, periods.period_start,
        oee_resources.kpi,
        100.0 * (sum(rt.run_hours) / nullif(sum(rt.planned_hours), 0))
              * (sum(rt.total_units) / nullif(sum(rt.ideal_units), 0))
              * (sum(rt.good_units) / nullif(sum(rt.total_units), 0)) as value
    from periods
    inner join resource_time rt
        on rt.production_date between periods.period_start and periods.period_end
    inner join oee_resources on oee_resources.resource_id = rt.resource_id
    group by periods.grain, periods.period_start, oee_resources.kpi

),

-- real changeover hours on the constraint / the changeovers its schedule planned (kpi_changeover_weekly)
changeover_vs_plan as (

    select
        periods.grain, periods.period_start,
        'changeover_vs_plan_pct' as kpi,
        100.0 * sum(co.changeover_hours_actual) / nullif(sum(co.changeover_hours_planned), 0) as value
    from periods
    inner join {{ ref('kpi_changeover_weekly') }} co
        on co.week_start between periods.period_start and periods.period_end
       and co.period = 'history'
    inner join declared_constraint on declared_constraint.resource_id = co.resource_id
    group by periods.grain, periods.period_start

),

kpis as (

    select * from otif
    union all select * from resource_oee
    union all select * from eo_value
    union all select * from changeover_vs_plan
    union all select * from a_item_stockouts
    union all select * from fill_rate
    union all select * from adherence
    union all select * from reschedules
    union all select * from scrap
    union all select * from expedite
    union all select * from turns

),

definitions as (

    select * from (values
        ('otif_pct', 'service', '%', true, {{ t.otif_pct }}),
        ('fill_rate_pct', 'service', '%', true, {{ t.fill_rate_pct }}),
        ('a_item_stockouts', 'service', 'count', false, 0.0),
        ('schedule_adherence_pct', 'stability', '%', true, {{ t.schedule_adherence_pct }}),
        ('reschedules_per_week', 'stability', 'count/week', false, {{ t.reschedules_per_week }}),
        ('scrap_pct', 'efficiency', '%', false, {{ t.scrap_pct }}),
        ('oee_constraint_pct', 'efficiency', '%', true, {{ t.oee_constraint_pct }}),
        ('oee_bottleneck_pct', 'efficiency', '%', true, {{ t.oee_constraint_pct }}),
        ('changeover_vs_plan_pct', 'efficiency', '% of plan', false, {{ t.changeover_vs_plan_pct }}),
        ('expedite_usd', 'cash', 'currency', false, cast(null as {{ type_double() }})),
        ('eo_value', 'cash', 'currency', false, cast(null as {{ type_double() }})),
        ('inventory_turns', 'cash', 'turns/year', true, {{ t.inventory_turns }})
    ) as d (kpi, area, unit, higher_is_better, target)

),

final as (

    select
        periods.grain,
        periods.period_start,
        periods.period_end,
        periods.periods_ago,
        definitions.area,
        definitions.kpi,
        kpi_subjects.resource_id,
        kpi_subjects.subject,
        kpis.value,
        definitions.target,
        definitions.unit,
        definitions.higher_is_better,
        case
            when kpis.value is null or definitions.target is null then null
            when definitions.higher_is_better then kpis.value >= definitions.target
            else kpis.value <= definitions.target
        end as on_target
    from periods
    cross join definitions
    left join kpis
        on kpis.grain = periods.grain and kpis.period_start = periods.period_start and kpis.kpi = definitions.kpi
    left join kpi_subjects on kpi_subjects.kpi = definitions.kpi

)

select * from final
