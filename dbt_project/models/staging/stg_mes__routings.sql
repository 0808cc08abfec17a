-- The primary routing: rows with priority 1 or no priority (files without the optional column).
-- Alternate resources (priority 2, 3, ...) are in stg_mes__routing_alternates; capacity, sequencing
-- and every other reader of the routing see the primary resources only, and the plan offloads to
-- an alternate only where its primary resource is full (analytics/offload.py).
with

source as (

    select * from {{ source('mes', 'routings') }}

),

renamed as (

    select
        ---------- ids
        cast(sku as {{ dbt.type_string() }}) as sku,
        cast(resource_id as {{ dbt.type_string() }}) as resource_id,

        ---------- text
        cast(setup_family as {{ dbt.type_string() }}) as setup_family,

        ---------- numerics
        cast(units_per_hour as {{ type_double() }}) as units_per_hour,
        cast(coalesce(priority, 1) as {{ dbt.type_bigint() }}) as priority,
        cast(coalesce(cost_per_hour, 0) as {{ type_double() }}) as cost_per_hour,
        cast(coalesce(cost_per_unit, 0) as {{ type_double() }}) as cost_per_unit,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('mes', 'routings'), known=['sku', 'resource_id', 'units_per_hour', 'setup_family', 'priority', 'alternate_for', 'cost_per_hour', 'cost_per_unit']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source
    where coalesce(priority, 1) = 1

)

select * from renamed
