with

source as (

    select * from {{ source('erp', 'inventory_lots') }}

),

renamed as (

    select
        ---------- ids
        cast(snapshot_date as date) as snapshot_date,
        cast(location as {{ dbt.type_string() }}) as location,
        cast(sku as {{ dbt.type_string() }}) as sku,
        cast(lot_id as {{ dbt.type_string() }}) as lot_id,

        ---------- text
        cast(status as {{ dbt.type_string() }}) as status,

        ---------- numerics
        cast(qty as {{ type_double() }}) as qty,

        ---------- dates
        cast(receipt_date as date) as receipt_date,
        cast(expiry_date as date) as expiry_date,

        ---------- derived
        {{ week_start('snapshot_date') }} as week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('erp', 'inventory_lots'), known=['snapshot_date', 'location', 'sku', 'lot_id', 'qty', 'receipt_date', 'expiry_date', 'status', 'week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
