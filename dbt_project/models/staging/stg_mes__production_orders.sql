with

source as (

    select * from {{ source('mes', 'production_orders') }}

),

renamed as (

    select
        ---------- ids
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(sku as {{ dbt.type_string() }}) as sku,
        cast(resource_id as {{ dbt.type_string() }}) as resource_id,

        ---------- text
        cast(status as {{ dbt.type_string() }}) as status,

        ---------- numerics
        cast(planned_qty as {{ type_double() }}) as planned_qty,
        cast(good_qty as {{ type_double() }}) as good_qty,
        cast(scrap_qty as {{ type_double() }}) as scrap_qty,

        ---------- timestamps
        cast(planned_start as {{ dbt.type_timestamp() }}) as planned_start,
        cast(planned_end as {{ dbt.type_timestamp() }}) as planned_end,
        cast(actual_start as {{ dbt.type_timestamp() }}) as actual_start,
        cast(actual_end as {{ dbt.type_timestamp() }}) as actual_end,

        ---------- derived
        {{ week_start('planned_start') }} as week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('mes', 'production_orders'), known=['order_id', 'sku', 'resource_id', 'planned_start', 'planned_end', 'actual_start', 'actual_end', 'planned_qty', 'good_qty', 'scrap_qty', 'status', 'week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
