-- ABC by revenue and XYZ by variability per SKU (the data pack's "Demand" line).
select
    sku,
    family,
    revenue_12m,
    revenue_share,
    cumulative_share,
    abc,
    mean_weekly_units,
    sd_weekly_units,
    cv,
    xyz,
    abc_xyz as class
from {{ source('inventory_outputs', 'abc_xyz') }}
