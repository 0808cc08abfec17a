with

source as (

    select * from {{ source('erp', 'items') }}

),

renamed as (

    select
        ---------- ids
        cast(sku as {{ dbt.type_string() }}) as sku,

        ---------- text
        cast(description as {{ dbt.type_string() }}) as description,
        cast(family as {{ dbt.type_string() }}) as family,
        cast(category as {{ dbt.type_string() }}) as category,
        cast(uom as {{ dbt.type_string() }}) as uom,
        cast(make_or_buy as {{ dbt.type_string() }}) as make_or_buy,
        cast(lifecycle as {{ dbt.type_string() }}) as lifecycle,

        ---------- numerics
        cast(unit_price as {{ type_double() }}) as unit_price,
        cast(unit_cost as {{ type_double() }}) as unit_cost,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('erp', 'items'), known=['sku', 'description', 'family', 'category', 'unit_price', 'unit_cost', 'uom', 'make_or_buy', 'lifecycle']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
