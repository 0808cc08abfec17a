with

source as (

    select * from {{ source('erp', 'sales_orders') }}

),

renamed as (

    select
        ---------- ids
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(line as {{ dbt.type_bigint() }}) as line,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(sku as {{ dbt.type_string() }}) as sku,

        ---------- text
        cast(status as {{ dbt.type_string() }}) as status,

        ---------- numerics
        cast(qty as {{ type_double() }}) as qty,
        cast(unit_price as {{ type_double() }}) as unit_price,

        ---------- dates
        cast(order_date as date) as order_date,
        cast(requested_date as date) as requested_date,
        cast(promised_date as date) as promised_date,

        ---------- derived
        {{ week_start('order_date') }} as order_week_start,
        {{ week_start('requested_date') }} as requested_week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('erp', 'sales_orders'), known=['order_id', 'line', 'customer_id', 'sku', 'order_date', 'requested_date', 'promised_date', 'qty', 'unit_price', 'status', 'order_week_start', 'requested_week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
