with

source as (

    select * from {{ source('mes', 'resource_time') }}

),

renamed as (

    select
        ---------- ids
        cast({{ adapter.quote('date') }} as date) as production_date,
        cast(resource_id as {{ dbt.type_string() }}) as resource_id,

        ---------- numerics
        cast(planned_hours as {{ type_double() }}) as planned_hours,
        cast(run_hours as {{ type_double() }}) as run_hours,
        cast(ideal_units as {{ type_double() }}) as ideal_units,
        cast(total_units as {{ type_double() }}) as total_units,
        cast(good_units as {{ type_double() }}) as good_units,

        ---------- derived
        {{ week_start(adapter.quote('date')) }} as week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('mes', 'resource_time'), known=['date', 'resource_id', 'planned_hours', 'run_hours', 'ideal_units', 'total_units', 'good_units', 'production_date', 'week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
