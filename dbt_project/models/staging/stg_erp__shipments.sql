with

source as (

    select * from {{ source('erp', 'shipments') }}

),

cycle as (

    select as_of from {{ source('meta', 'cycle') }}

),

as_of_cycle as (

    -- as of the cycle: a delivery after the as-of is not known yet (not yet delivered); shipments
    -- after the as-of were cut in ingest
    select
        source.*,
        case when source.delivered_date <= cycle.as_of then source.delivered_date end as delivered_date_as_of
    from source
    cross join cycle

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
        cast(delivered_date_as_of as date) as delivered_date,

        ---------- derived
        {{ week_start('ship_date') }} as week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('erp', 'shipments'), known=['order_id', 'line', 'ship_date', 'delivered_date', 'qty', 'week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from as_of_cycle

)

select * from renamed
