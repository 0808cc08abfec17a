-- The reporting periods of the cycle: the last 26 complete ISO weeks and the last 13 complete
-- calendar months on or before the as-of date (KPI_DEFINITIONS.md "Horizon and as-of").
with

cycle as (

    select * from {{ source('meta', 'cycle') }}

),

bounds as (

    select
        as_of,
        case when {{ dbt.dateadd('day', 6, 'week0_start') }} <= as_of
             then week0_start
             else cast({{ dbt.dateadd('day', -7, 'week0_start') }} as date)
        end as last_week_start,
        -- last complete month: the as-of month if as-of is its last day, else the month before
        case when cast({{ dbt.dateadd('day', 1, 'as_of') }} as date) = cast({{ dbt.date_trunc('month', dbt.dateadd('day', 1, 'as_of')) }} as date)
             then cast({{ dbt.date_trunc('month', 'as_of') }} as date)
             else cast({{ dbt.dateadd('month', -1, dbt.date_trunc('month', 'as_of')) }} as date)
        end as last_month_start
    from cycle

),

numbers as (

    {{ dbt.generate_series(26) }}

),

weeks as (

    select
        'week' as grain,
        cast({{ dbt.dateadd('week', '1 - numbers.generated_number', 'bounds.last_week_start') }} as date) as period_start,
        numbers.generated_number as periods_ago
    from numbers
    cross join bounds

),

months as (

    select
        'month' as grain,
        cast({{ dbt.dateadd('month', '1 - numbers.generated_number', 'bounds.last_month_start') }} as date) as period_start,
        numbers.generated_number as periods_ago
    from numbers
    cross join bounds
    where numbers.generated_number <= 13

),

final as (

    select
        grain,
        period_start,
        cast(case when grain = 'week' then {{ dbt.dateadd('day', 6, 'period_start') }}
                  else {{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'period_start')) }} end as date) as period_end,
        periods_ago
    from (select * from weeks union all select * from months) periods

)

select * from final
