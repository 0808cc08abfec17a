-- Alternate resources of the routings extract: rows with priority 2, 3, ... (1 = primary, in
-- stg_mes__routings). alternate_for names the primary resource the alternate can replace (empty:
-- the SKU's only primary resource; resolved in analytics/offload.py). Costs default to 0.
with

source as (

    select * from {{ source('mes', 'routings') }}

),

renamed as (

    select
        ---------- ids
        cast(sku as {{ dbt.type_string() }}) as sku,
        cast(resource_id as {{ dbt.type_string() }}) as resource_id,
        cast(alternate_for as {{ dbt.type_string() }}) as alternate_for,

        ---------- text
        cast(setup_family as {{ dbt.type_string() }}) as setup_family,

        ---------- numerics
        cast(units_per_hour as {{ type_double() }}) as units_per_hour,
        cast(priority as {{ dbt.type_bigint() }}) as priority,
        cast(coalesce(cost_per_hour, 0) as {{ type_double() }}) as cost_per_hour,
        cast(coalesce(cost_per_unit, 0) as {{ type_double() }}) as cost_per_unit,

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source
    where coalesce(priority, 1) > 1

)

select * from renamed
