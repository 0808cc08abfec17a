with

source as (

    select * from {{ source('sop', 'risk_events') }}

),

renamed as (

    select
        ---------- ids
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(entity_id as {{ dbt.type_string() }}) as entity_id,

        ---------- text
        cast(kind as {{ dbt.type_string() }}) as kind,
        cast(description as {{ dbt.type_string() }}) as description,

        ---------- dates
        cast({{ adapter.quote('date') }} as date) as event_date,

        ---------- derived
        {{ week_start(adapter.quote('date')) }} as week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('sop', 'risk_events'), known=['event_id', 'date', 'kind', 'entity_id', 'description', 'event_date', 'week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
