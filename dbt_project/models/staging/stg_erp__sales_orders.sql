with

source as (

    select * from {{ source('erp', 'sales_orders') }}

),

cycle as (

    select as_of from {{ source('meta', 'cycle') }}

),

shipped as (

    select order_id, line, sum(qty) as shipped_qty
    from {{ source('erp', 'shipments') }}
    where ship_date <= (select as_of from cycle)
    group by order_id, line

),

as_of_cycle as (

    -- as of the cycle: the status follows the shipments on or before the as-of (later ones were cut in
    -- ingest) and is never ahead of the file's: shipped if they cover the line, partially_shipped if
    -- any, else open; cancelled as in the file (the contract has no cancellation date)
    select
        source.*,
        case
            when source.status is null or source.status not in ('shipped', 'partially_shipped') then source.status
            when source.status = 'shipped' and coalesce(shipped.shipped_qty, 0) >= source.qty then 'shipped'
            when coalesce(shipped.shipped_qty, 0) > 0 then 'partially_shipped'
            else 'open'
        end as status_as_of
    from source
    left join shipped
        on shipped.order_id = source.order_id and shipped.line = source.line

),

renamed as (

    select
        ---------- ids
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(line as {{ dbt.type_bigint() }}) as line,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(sku as {{ dbt.type_string() }}) as sku,

        ---------- text
        cast(status_as_of as {{ dbt.type_string() }}) as status,

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

    from as_of_cycle

)

select * from renamed
