with

source as (

    select * from {{ source('finance', 'revenue_plan') }}

),

renamed as (

    select
        ---------- ids
        cast({{ adapter.quote('month') }} as date) as plan_month,
        cast(family as {{ dbt.type_string() }}) as family,

        ---------- numerics
        cast(units as {{ type_double() }}) as units,
        cast(revenue as {{ type_double() }}) as revenue,

        ---------- derived
        cast({{ dbt.date_trunc('month', adapter.quote('month')) }} as date) as month_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('finance', 'revenue_plan'), known=['month', 'family', 'units', 'revenue', 'plan_month', 'month_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
