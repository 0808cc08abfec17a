-- Pending excess & obsolete (E&O) per SKU on the latest inventory snapshot, valued at cost
-- (KPI_DEFINITIONS.md). Obsolete: phase-out items, expired lots, or no demand in 52 weeks and none
-- forecast - a component's forecast demand is its dependent demand (MRP's gross requirement from
-- the plan's production), so a component the plan consumes is never obsolete.
-- Excess: remaining on hand above the need of the next 26 weeks plus safety stock. The 26-week
-- need is the 13-week forecast (p50) x 2 - the forecast horizon is 13 weeks, so weeks 14-26
-- repeat its run-rate - or, for a SKU without a forecast, its last 26 weeks' demand run-rate.
with

cycle as (

    select * from {{ source('meta', 'cycle') }}

),

items as (

    select * from {{ ref('stg_erp__items') }}

),

lots as (

    select * from {{ ref('stg_erp__inventory_lots') }}
    where snapshot_date = (select max(snapshot_date) from {{ ref('stg_erp__inventory_lots') }})

),

demand as (

    select * from {{ ref('int_demand_weekly') }}

),

stock as (

    select
        sku,
        sum(qty) as on_hand_units,
        sum(case when expiry_date is not null and expiry_date <= snapshot_date then qty else 0 end)
            as expired_units
    from lots
    group by sku

),

demand_52w as (

    select demand.sku, sum(demand.units) as units_52w
    from demand
    cross join cycle
    where demand.week_start > {{ dbt.dateadd('week', -52, 'cycle.as_of') }}
    group by demand.sku

),

run_rate as (

    select demand.sku, avg(demand.units) * count(distinct demand.location) as weekly_units
    from demand
    cross join cycle
    where demand.week_start > {{ dbt.dateadd('week', -26, 'cycle.as_of') }}
      and not coalesce(demand.is_stockout, false)
    group by demand.sku

),

forecast_13w as (

    select sku, sum(units_p50) as units_13w
    from {{ source('analytics', 'demand_forecast') }}
    where horizon_week between 1 and 13
    group by sku

),

-- a component's need: the gross requirement MRP derives from the plan's production (13 weeks)
dependent_13w as (

    select component_sku as sku, sum(gross_units) as units_13w
    from {{ ref('component_requirements') }}
    group by component_sku

),

expiry_risk as (

    -- usable lots that the plan of record sees expiring unused inside the horizon (FEFO)
    select sku, sum(expired_units) as expiry_risk_units
    from {{ source('plan_outputs', 'plan_of_record') }}
    group by sku

),

policy as (

    -- the safety stock the plan of record holds at its highest in the horizon (the policy's
    -- single figure, or a seasonal SKU's peak; the policy's for a SKU the plan does not hold)
    select sku, safety_stock_peak_units as safety_stock_units from {{ ref('datapack_inventory') }}

),

classified as (

    select
        stock.sku,
        items.family,
        items.unit_cost,
        stock.on_hand_units,
        case
            when items.lifecycle = 'phase_out' then stock.on_hand_units
            when coalesce(demand_52w.units_52w, 0) = 0
                 and coalesce(forecast_13w.units_13w, 0) + coalesce(dependent_13w.units_13w, 0) = 0
                then stock.on_hand_units
            else stock.expired_units
        end as obsolete_units,
        case
            when items.lifecycle = 'phase_out' then 'phase-out item'
            when coalesce(demand_52w.units_52w, 0) = 0
                 and coalesce(forecast_13w.units_13w, 0) + coalesce(dependent_13w.units_13w, 0) = 0
                then 'no demand in 52 weeks and none forecast'
            when stock.expired_units > 0 then 'expired lots'
        end as obsolete_reason,
        coalesce(
            2 * (forecast_13w.units_13w + coalesce(dependent_13w.units_13w, 0)),
            2 * dependent_13w.units_13w,
            26 * run_rate.weekly_units,
            0
        ) + coalesce(policy.safety_stock_units, 0) as need_units,
        coalesce(expiry_risk.expiry_risk_units, 0) as expiry_risk_units
    from stock
    inner join items on items.sku = stock.sku
    left join demand_52w on demand_52w.sku = stock.sku
    left join run_rate on run_rate.sku = stock.sku
    left join forecast_13w on forecast_13w.sku = stock.sku
    left join dependent_13w on dependent_13w.sku = stock.sku
    left join policy on policy.sku = stock.sku
    left join expiry_risk on expiry_risk.sku = stock.sku

),

final as (

    select
        sku,
        family,
        greatest(on_hand_units - obsolete_units - need_units, 0) as excess_units,
        obsolete_units,
        (greatest(on_hand_units - obsolete_units - need_units, 0) + obsolete_units) * unit_cost as value,
        expiry_risk_units,
        expiry_risk_units * unit_cost as expiry_risk_value,
        trim(both '; ' from coalesce(obsolete_reason, '') ||
            case when on_hand_units - obsolete_units - need_units > 0
                 then '; on hand above 26 weeks of need + safety stock' else '' end ||
            case when expiry_risk_units > 0
                 then '; lots expire unused inside the horizon (plan of record)' else '' end) as reason
    from classified
    where obsolete_units > 0 or on_hand_units - obsolete_units - need_units > 0 or expiry_risk_units > 0

)

select * from final
