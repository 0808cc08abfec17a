with

source as (

    select * from {{ source('erp', 'receipts') }}

),

renamed as (

    select
        ---------- ids
        cast(po_id as {{ dbt.type_string() }}) as po_id,
        cast(line as {{ dbt.type_bigint() }}) as line,

        ---------- numerics
        cast(qty as {{ type_double() }}) as qty,

        ---------- dates
        cast(receipt_date as date) as receipt_date,

        ---------- derived
        {{ week_start('receipt_date') }} as week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('erp', 'receipts'), known=['po_id', 'line', 'receipt_date', 'qty', 'week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
