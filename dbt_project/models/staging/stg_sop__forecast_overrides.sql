with

source as (

    select * from {{ source('sop', 'forecast_overrides') }}

),

renamed as (

    select
        ---------- ids
        cast(override_id as {{ dbt.type_string() }}) as override_id,
        cast({{ adapter.quote('level') }} as {{ dbt.type_string() }}) as override_level,
        cast({{ adapter.quote('key') }} as {{ dbt.type_string() }}) as override_key,

        ---------- text
        cast({{ adapter.quote('mode') }} as {{ dbt.type_string() }}) as override_mode,
        cast(profile as {{ dbt.type_string() }}) as profile,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(author as {{ dbt.type_string() }}) as author,

        ---------- numerics
        cast({{ adapter.quote('value') }} as {{ type_double() }}) as override_value,

        ---------- booleans
        cast(approved as {{ dbt.type_boolean() }}) as is_approved,

        ---------- dates
        cast(week_from as date) as week_from,
        cast(week_to as date) as week_to,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,

        ---------- derived
        {{ week_start('week_from') }} as week_from_start,
        {{ week_start('week_to') }} as week_to_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('sop', 'forecast_overrides'), known=['override_id', 'level', 'key', 'week_from', 'week_to', 'mode', 'value', 'profile', 'reason', 'author', 'approved', 'created_at', 'override_level', 'override_key', 'override_mode', 'override_value', 'is_approved', 'week_from_start', 'week_to_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
