with

source as (

    select * from {{ source('crm', 'opportunities') }}

),

renamed as (

    select
        ---------- ids
        cast(opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,

        ---------- text
        cast(sku_or_family as {{ dbt.type_string() }}) as sku_or_family,
        cast(status as {{ dbt.type_string() }}) as status,

        ---------- numerics
        cast(qty as {{ type_double() }}) as qty,
        cast(probability as {{ type_double() }}) as probability,

        ---------- dates
        cast(expected_date as date) as expected_date,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('crm', 'opportunities'), known=['opportunity_id', 'customer_id', 'sku_or_family', 'expected_date', 'qty', 'probability', 'status']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
