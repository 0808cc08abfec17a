with

source as (

    select * from {{ source('erp', 'shipments') }}

),

renamed as (

    select
        ---------- ids
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(line as {{ dbt.type_bigint() }}) as line,

        ---------- numerics
        cast(qty as {{ type_double() }}) as qty,

        ---------- dates
        cast(ship_date as date) as ship_date,
        cast(delivered_date as date) as delivered_date,

        ---------- derived
        {{ week_start('ship_date') }} as week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('erp', 'shipments'), known=['order_id', 'line', 'ship_date', 'delivered_date', 'qty', 'week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
