with

source as (

    select * from {{ source('mes', 'production_orders') }}

),

cycle as (

    -- as of the cycle: a fact recorded after the as-of date (from the start of the next day) is not known yet
    select cast({{ dbt.dateadd('day', 1, 'as_of') }} as {{ dbt.type_timestamp() }}) as known_before
    from {{ source('meta', 'cycle') }}

),

as_of_cycle as (

    -- as of the cycle: actuals after the as-of are masked (orders created after it were cut in ingest);
    -- good/scrap quantities of an order with later actuals are later counts: 0 if it had not started by
    -- the as-of (nothing produced yet), else unknown (null)
    select
        source.*,
        case when source.actual_start < cycle.known_before then source.actual_start end as actual_start_as_of,
        case when source.actual_end < cycle.known_before then source.actual_end end as actual_end_as_of,
        coalesce(source.actual_start >= cycle.known_before or source.actual_end >= cycle.known_before, false)
            as has_later_actuals
    from source
    cross join cycle

),

renamed as (

    select
        ---------- ids
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(sku as {{ dbt.type_string() }}) as sku,
        cast(resource_id as {{ dbt.type_string() }}) as resource_id,

        ---------- text (status as of the cycle: completed only if it ended by the as-of, in_progress if
        ---------- it started by then, else released; planned and cancelled as in the file)
        cast(
            case
                when status is null or status not in ('completed', 'in_progress') then status
                when status = 'completed' and actual_end_as_of is not null then 'completed'
                when actual_start_as_of is not null then 'in_progress'
                else 'released'
            end as {{ dbt.type_string() }}) as status,

        ---------- numerics
        cast(planned_qty as {{ type_double() }}) as planned_qty,
        cast(case when not has_later_actuals then good_qty when actual_start_as_of is null then 0 end
             as {{ type_double() }}) as good_qty,
        cast(case when not has_later_actuals then scrap_qty when actual_start_as_of is null then 0 end
             as {{ type_double() }}) as scrap_qty,

        ---------- timestamps
        cast(planned_start as {{ dbt.type_timestamp() }}) as planned_start,
        cast(planned_end as {{ dbt.type_timestamp() }}) as planned_end,
        cast(actual_start_as_of as {{ dbt.type_timestamp() }}) as actual_start,
        cast(actual_end_as_of as {{ dbt.type_timestamp() }}) as actual_end,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,

        ---------- derived
        {{ week_start('planned_start') }} as week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('mes', 'production_orders'), known=['order_id', 'sku', 'resource_id', 'planned_start', 'planned_end', 'actual_start', 'actual_end', 'planned_qty', 'good_qty', 'scrap_qty', 'status', 'created_at', 'week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from as_of_cycle

)

select * from renamed
