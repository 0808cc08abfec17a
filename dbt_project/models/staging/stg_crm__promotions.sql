with

source as (

    select * from {{ source('crm', 'promotions') }}

),

renamed as (

    select
        ---------- ids
        cast(promo_id as {{ dbt.type_string() }}) as promo_id,
        cast(sku as {{ dbt.type_string() }}) as sku,

        ---------- text
        cast(location_or_customer as {{ dbt.type_string() }}) as location_or_customer,

        ---------- numerics
        cast(discount_pct as {{ type_double() }}) as discount_pct,
        cast(expected_units as {{ type_double() }}) as expected_units,

        ---------- dates
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('crm', 'promotions'), known=['promo_id', 'sku', 'location_or_customer', 'start_date', 'end_date', 'discount_pct', 'expected_units']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
