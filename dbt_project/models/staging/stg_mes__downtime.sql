with

source as (

    select * from {{ source('mes', 'downtime') }}

),

cycle as (

    -- as of the cycle: a fact recorded after the as-of date (from the start of the next day) is not known yet
    select cast({{ dbt.dateadd('day', 1, 'as_of') }} as {{ dbt.type_timestamp() }}) as known_before
    from {{ source('meta', 'cycle') }}

),

as_of_cycle as (

    -- as of the cycle: an unplanned event still going on at the as-of is known up to the as-of (its
    -- end is the as-of); unplanned events starting later (and planned ones recorded later) were cut
    -- in ingest; planned downtime is known in advance and keeps its end
    select
        source.*,
        case when not source.planned and source.{{ adapter.quote('end') }} > cycle.known_before
             then cycle.known_before else source.{{ adapter.quote('end') }} end as end_as_of
    from source
    cross join cycle

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
        cast(end_as_of as {{ dbt.type_timestamp() }}) as end_at,
        cast(recorded_at as {{ dbt.type_timestamp() }}) as recorded_at,

        ---------- derived
        cast({{ dbt.datediff(adapter.quote('start'), 'end_as_of', 'second') }} as {{ type_double() }}) / 3600 as downtime_hours,
        {{ week_start(adapter.quote('start')) }} as week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('mes', 'downtime'), known=['resource_id', 'start', 'end', 'planned', 'reason', 'recorded_at', 'start_at', 'end_at', 'is_planned', 'downtime_hours', 'week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from as_of_cycle

)

select * from renamed
