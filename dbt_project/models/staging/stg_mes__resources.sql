with

source as (

    select * from {{ source('mes', 'resources') }}

),

renamed as (

    select
        ---------- ids
        cast(resource_id as {{ dbt.type_string() }}) as resource_id,

        ---------- text
        cast({{ adapter.quote('type') }} as {{ dbt.type_string() }}) as resource_type,
        cast({{ adapter.quote('name') }} as {{ dbt.type_string() }}) as resource_name,

        ---------- numerics
        cast(hours_per_day as {{ type_double() }}) as hours_per_day,
        cast(days_per_week as {{ type_double() }}) as days_per_week,

        ---------- booleans
        cast(is_constraint as {{ dbt.type_boolean() }}) as is_constraint,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('mes', 'resources'), known=['resource_id', 'type', 'name', 'is_constraint', 'hours_per_day', 'days_per_week', 'resource_type', 'resource_name']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
