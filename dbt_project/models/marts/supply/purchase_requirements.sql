-- Planned purchase orders per supplier, component and week (sop_pipeline/analytics/mrp.py) with the
-- supplier's risk: OTIF and lead-time trend (datapack_supplier_performance) and the open risk
-- signals on the supplier and its route (risk_signals). late = the release date is before the as-of:
-- even ordered today the component arrives after it is needed (earliest_arrival_date).
with

planned as (

    select * from {{ source('mrp_outputs', 'purchase_requirements') }}

),

suppliers as (

    select * from {{ ref('stg_erp__suppliers') }}

),

performance as (

    select supplier_id, otif_pct, lead_time_trend_days from {{ ref('datapack_supplier_performance') }}

),

signals as (

    select
        kind,
        entity_id,
        {{ dbt.listagg('signal', "'; '", 'order by signal') }} as signals
    from (select distinct kind, entity_id, signal from {{ ref('risk_signals') }}) s
    group by kind, entity_id

)

select
    planned.supplier_id,
    suppliers.supplier_name,
    planned.component_sku,
    items.description as component_description,
    cast(planned.release_week_start as date) as release_week_start,
    cast(planned.release_date as date) as release_date,
    cast(planned.need_week_start as date) as need_week_start,
    planned.qty,
    planned.qty * items.unit_cost as value,
    planned.lead_time_days,
    planned.lead_time_source,
    cast(planned.earliest_arrival_date as date) as earliest_arrival_date,
    planned.days_late,
    planned.late,
    performance.otif_pct as supplier_otif_pct,
    performance.lead_time_trend_days as supplier_lead_time_trend_days,
    supplier_signals.signals as supplier_risk_signals,
    route_signals.signals as route_risk_signals,
    (supplier_signals.signals is not null or route_signals.signals is not null) as at_risk
from planned
left join suppliers on suppliers.supplier_id = planned.supplier_id
left join {{ ref('stg_erp__items') }} items on items.sku = planned.component_sku
left join performance on performance.supplier_id = planned.supplier_id
left join signals supplier_signals
    on supplier_signals.kind = 'supplier' and supplier_signals.entity_id = planned.supplier_id
left join signals route_signals
    on route_signals.kind = 'route' and route_signals.entity_id = suppliers.route
