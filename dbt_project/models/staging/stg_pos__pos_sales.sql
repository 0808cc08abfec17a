with

source as (

    select * from {{ source('pos', 'pos_sales') }}

),

renamed as (

    select
        ---------- ids
        cast({{ adapter.quote('date') }} as date) as sales_date,
        cast(location as {{ dbt.type_string() }}) as location,
        cast(sku as {{ dbt.type_string() }}) as sku,

        ---------- numerics
        cast(units as {{ type_double() }}) as units,
        cast(revenue as {{ type_double() }}) as revenue,

        ---------- derived
        {{ week_start(adapter.quote('date')) }} as week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('pos', 'pos_sales'), known=['date', 'location', 'sku', 'units', 'revenue', 'sales_date', 'week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
