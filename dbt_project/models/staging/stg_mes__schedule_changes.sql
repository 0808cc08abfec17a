with

source as (

    select * from {{ source('mes', 'schedule_changes') }}

),

renamed as (

    select
        ---------- ids
        cast(order_id as {{ dbt.type_string() }}) as order_id,

        ---------- text
        cast(reason as {{ dbt.type_string() }}) as reason,

        ---------- timestamps
        cast(changed_at as {{ dbt.type_timestamp() }}) as changed_at,
        cast(old_start as {{ dbt.type_timestamp() }}) as old_start,
        cast(new_start as {{ dbt.type_timestamp() }}) as new_start,

        ---------- derived
        {{ week_start('changed_at') }} as week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('mes', 'schedule_changes'), known=['order_id', 'changed_at', 'old_start', 'new_start', 'reason', 'week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
