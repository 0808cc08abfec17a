with

source as (

    select * from {{ source('erp', 'purchase_orders') }}

),

renamed as (

    select
        ---------- ids
        cast(po_id as {{ dbt.type_string() }}) as po_id,
        cast(line as {{ dbt.type_bigint() }}) as line,
        cast(supplier_id as {{ dbt.type_string() }}) as supplier_id,
        cast(sku as {{ dbt.type_string() }}) as sku,

        ---------- numerics
        cast(qty as {{ type_double() }}) as qty,
        cast(unit_cost as {{ type_double() }}) as unit_cost,

        ---------- dates
        cast(order_date as date) as order_date,
        cast(promised_date as date) as promised_date,

        ---------- derived
        {{ week_start('order_date') }} as order_week_start,
        {{ week_start('promised_date') }} as promised_week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('erp', 'purchase_orders'), known=['po_id', 'line', 'supplier_id', 'sku', 'order_date', 'promised_date', 'qty', 'unit_cost', 'order_week_start', 'promised_week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
