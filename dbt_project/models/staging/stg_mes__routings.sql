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

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('mes', 'routings'), known=['sku', 'resource_id', 'units_per_hour', 'setup_family']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
