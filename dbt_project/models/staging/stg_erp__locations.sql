with

source as (

    select * from {{ source('erp', 'locations') }}

),

renamed as (

    select
        ---------- ids
        cast(location as {{ dbt.type_string() }}) as location,

        ---------- text
        cast({{ adapter.quote('type') }} as {{ dbt.type_string() }}) as location_type,
        cast(region as {{ dbt.type_string() }}) as region,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('erp', 'locations'), known=['location', 'type', 'region', 'location_type']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
