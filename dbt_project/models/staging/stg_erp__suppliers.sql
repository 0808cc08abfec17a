with

source as (

    select * from {{ source('erp', 'suppliers') }}

),

renamed as (

    select
        ---------- ids
        cast(supplier_id as {{ dbt.type_string() }}) as supplier_id,

        ---------- text
        cast({{ adapter.quote('name') }} as {{ dbt.type_string() }}) as supplier_name,
        cast(country as {{ dbt.type_string() }}) as country,
        cast(route as {{ dbt.type_string() }}) as route,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('erp', 'suppliers'), known=['supplier_id', 'name', 'country', 'route', 'supplier_name']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
