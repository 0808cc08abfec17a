with

source as (

    select * from {{ source('erp', 'bom') }}

),

renamed as (

    select
        ---------- ids
        cast(parent_sku as {{ dbt.type_string() }}) as parent_sku,
        cast(component_sku as {{ dbt.type_string() }}) as component_sku,
        cast(bom_version as {{ dbt.type_string() }}) as bom_version,

        ---------- numerics
        cast(qty_per as {{ type_double() }}) as qty_per,

        ---------- dates (inclusive validity; empty = open)
        cast(effective_from as date) as effective_from,
        cast(effective_to as date) as effective_to,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('erp', 'bom'), known=['parent_sku', 'component_sku', 'qty_per', 'effective_from', 'effective_to', 'bom_version']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
