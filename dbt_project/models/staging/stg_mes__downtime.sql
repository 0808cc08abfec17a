with

source as (

    select * from {{ source('mes', 'downtime') }}

),

renamed as (

    select
        ---------- ids
        cast(resource_id as {{ dbt.type_string() }}) as resource_id,

        ---------- text
        cast(reason as {{ dbt.type_string() }}) as reason,

        ---------- booleans
        cast(planned as {{ dbt.type_boolean() }}) as is_planned,

        ---------- timestamps
        cast({{ adapter.quote('start') }} as {{ dbt.type_timestamp() }}) as start_at,
        cast({{ adapter.quote('end') }} as {{ dbt.type_timestamp() }}) as end_at,

        ---------- derived
        cast({{ dbt.datediff(adapter.quote('start'), adapter.quote('end'), 'second') }} as {{ type_double() }}) / 3600 as downtime_hours,
        {{ week_start(adapter.quote('start')) }} as week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('mes', 'downtime'), known=['resource_id', 'start', 'end', 'planned', 'reason', 'start_at', 'end_at', 'is_planned', 'downtime_hours', 'week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
