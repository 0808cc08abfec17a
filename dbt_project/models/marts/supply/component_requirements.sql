-- MRP record per component x horizon week (sop_pipeline/analytics/mrp.py): gross requirement from
-- the parents' production (plan of record make units through the BOM in force), open PO receipts,
-- projected on hand from usable stock, net requirement, planned receipt and its release week.
select
    r.component_sku,
    items.description as component_description,
    r.make_or_buy,
    r.low_level_code,
    cast(r.week_start as date) as week_start,
    r.horizon_week,
    r.parents,
    r.bom_versions,
    r.gross_units,
    r.scheduled_receipts_units,
    r.opening_on_hand_units,
    r.projected_on_hand_units,
    r.net_units,
    r.planned_receipt_units,
    r.planned_release_units,
    cast(r.planned_release_week_start as date) as planned_release_week_start,
    r.netted
from {{ source('mrp_outputs', 'component_requirements') }} r
left join {{ ref('stg_erp__items') }} items on items.sku = r.component_sku
