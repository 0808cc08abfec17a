with

source as (

    select * from {{ source('erp', 'customers') }}

),

renamed as (

    select
        ---------- ids
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,

        ---------- text
        cast({{ adapter.quote('name') }} as {{ dbt.type_string() }}) as customer_name,
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(channel as {{ dbt.type_string() }}) as channel,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('erp', 'customers'), known=['customer_id', 'name', 'segment', 'channel', 'customer_name']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
