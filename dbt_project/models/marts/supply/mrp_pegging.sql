-- Pegging of the MRP run: which parent's production drives which component requirement.
select
    component_sku,
    parent_sku,
    cast(need_week_start as date) as need_week_start,
    cast(parent_week_start as date) as parent_week_start,
    parent_units,
    qty_per,
    bom_version,
    gross_units,
    level
from {{ source('mrp_outputs', 'mrp_pegging') }}
