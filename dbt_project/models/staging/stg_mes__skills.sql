with

source as (

    select * from {{ source('mes', 'skills') }}

),

renamed as (

    select
        ---------- ids
        cast(employee_id as {{ dbt.type_string() }}) as employee_id,
        cast(resource_id as {{ dbt.type_string() }}) as resource_id,

        ---------- text
        cast(shift as {{ dbt.type_string() }}) as shift,

        ---------- numerics
        cast({{ adapter.quote('level') }} as {{ dbt.type_bigint() }}) as skill_level,
        cast(hours_per_week as {{ type_double() }}) as hours_per_week,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('mes', 'skills'), known=['employee_id', 'resource_id', 'level', 'shift', 'hours_per_week', 'skill_level']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
