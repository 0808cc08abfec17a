-- Changeover hours per machine and ISO week: planned vs actual (KPI_DEFINITIONS.md "Changeover
-- hours vs plan"). History weeks: planned = the changeover matrix between consecutive production
-- orders in planned order (the schedule that was released); actual = real changeover time from
-- MES. Horizon weeks: planned = the optimized production sequence (sequence_summary), no actual.
--
-- Actual changeover, per resource and day, in this order of preference:
--   1. downtime events whose reason names a changeover ('changeover', 'change over', 'setup',
--      'set-up'), when the resource records any;
--   2. else from the production orders: the hours an order was in progress (actual_start to
--      actual_end, within the resource's shift window) that were neither run time
--      (resource_time.run_hours) nor a downtime event inside the order, on the days the resource
--      worked (planned hours in resource_time, or a day of its working week when resource_time has
--      no row): an order left open over a Sunday was paused, not changing over. The shift window is
--      the earliest order start and latest order end time of day seen on the resource
--      (06:00-22:00 on the demo; 00:00-24:00 for a line that runs round the clock).
-- The leftover of planned time (planned - run - downtime) is NOT used: it also holds the idle
-- time of a machine that has no order to run.
with

cycle as (

    select * from {{ source('meta', 'cycle') }}

),

orders as (

    select
        orders.order_id,
        orders.resource_id,
        orders.planned_start,
        orders.actual_start,
        coalesce(orders.actual_end, cast({{ dbt.dateadd('day', 1, 'cycle.as_of') }} as timestamp)) as actual_end,
        routings.setup_family
    from {{ ref('stg_mes__production_orders') }} orders
    cross join cycle
    left join {{ ref('stg_mes__routings') }} routings
        on routings.sku = orders.sku and routings.resource_id = orders.resource_id
    where orders.status <> 'cancelled'

),

matrix as (

    select resource_id, from_key, to_key, changeover_minutes from {{ ref('stg_mes__changeovers') }}

),

-- planned: matrix minutes from the previous order's setup family, orders in planned order
planned_orders as (

    select
        resource_id,
        {{ week_start('planned_start') }} as week_start,
        setup_family,
        lag(setup_family) over (partition by resource_id order by planned_start, order_id) as previous_setup
    from orders

),

planned as (

    select
        planned_orders.resource_id,
        planned_orders.week_start,
        sum(coalesce(matrix.changeover_minutes, 0)) / 60.0 as changeover_hours_planned,
        count(*) as orders_planned
    from planned_orders
    left join matrix
        on matrix.resource_id = planned_orders.resource_id
       and matrix.from_key = planned_orders.previous_setup
       and matrix.to_key = planned_orders.setup_family
    group by planned_orders.resource_id, planned_orders.week_start

),

started as (

    select * from orders where actual_start is not null and actual_end > actual_start

),

shift_window as (

    select
        resource_id,
        min(extract(hour from actual_start) + extract(minute from actual_start) / 60.0) as open_hour,
        max(case when cast(actual_end as time) = time '00:00:00' then 24.0
                 else extract(hour from actual_end) + extract(minute from actual_end) / 60.0 end) as close_hour
    from started
    group by resource_id

),

order_days as (

    select
        started.*,
        {{ date_range_to_rows('started.actual_start', 'started.actual_end') }} as production_date
    from started

),

busy as (

    select
        order_days.resource_id,
        order_days.production_date,
        sum(greatest(0.0, {{ interval_seconds(
            "least(order_days.actual_end, "
            ~ add_microseconds('cast(order_days.production_date as timestamp)',
                               'cast(shift_window.close_hour * 3600e6 as bigint)') ~ ")
            - greatest(order_days.actual_start, "
            ~ add_microseconds('cast(order_days.production_date as timestamp)',
                               'cast(shift_window.open_hour * 3600e6 as bigint)') ~ ")"
        ) }} / 3600.0)) as busy_hours
    from order_days
    inner join shift_window on shift_window.resource_id = order_days.resource_id
    group by order_days.resource_id, order_days.production_date

),

downtime as (

    select
        resource_id, start_at, end_at, downtime_hours,
        cast(start_at as date) as production_date,
        (lower(coalesce(reason, '')) like '%changeover%' or lower(coalesce(reason, '')) like '%change over%'
         or lower(coalesce(reason, '')) like '%change-over%' or lower(coalesce(reason, '')) like '%setup%'
         or lower(coalesce(reason, '')) like '%set-up%' or lower(coalesce(reason, '')) like '%set up%')
            as is_changeover
    from {{ ref('stg_mes__downtime') }}

),

downtime_in_orders as (

    select
        downtime.resource_id,
        downtime.production_date,
        sum({{ interval_seconds('least(downtime.end_at, started.actual_end) - greatest(downtime.start_at, started.actual_start)') }}
            / 3600.0) as hours
    from downtime
    inner join started
        on started.resource_id = downtime.resource_id
       and downtime.start_at < started.actual_end
       and downtime.end_at > started.actual_start
    where not downtime.is_changeover
    group by downtime.resource_id, downtime.production_date

),

recorded as (

    select resource_id, production_date, sum(downtime_hours) as hours
    from downtime
    where is_changeover
    group by resource_id, production_date

),

recording_resources as (

    select distinct resource_id from recorded

),

run_time as (

    select resource_id, production_date, planned_hours, run_hours from {{ ref('stg_mes__resource_time') }}

),

working_week as (

    select resource_id, days_per_week from {{ ref('stg_mes__resources') }}

),

derived as (

    select
        busy.resource_id,
        busy.production_date,
        greatest(0.0, busy.busy_hours - coalesce(run_time.run_hours, 0)
                      - coalesce(downtime_in_orders.hours, 0)) as hours
    from busy
    left join run_time
        on run_time.resource_id = busy.resource_id and run_time.production_date = busy.production_date
    left join downtime_in_orders
        on downtime_in_orders.resource_id = busy.resource_id
       and downtime_in_orders.production_date = busy.production_date
    left join working_week
        on working_week.resource_id = busy.resource_id
    where busy.resource_id not in (select resource_id from recording_resources)
      -- only the days the resource worked: an order left open over a day off (a Sunday) was paused,
      -- not changing over. A day counts when resource_time plans hours on it (overtime on a
      -- Saturday too), or, without a resource_time row, when it is inside the resource's working
      -- week (the first days_per_week ISO weekdays; every day when days_per_week is unknown)
      and case
          when run_time.planned_hours is not null then run_time.planned_hours > 0
          else extract(isodow from busy.production_date) <= coalesce(working_week.days_per_week, 7)
      end

),

actual_daily as (

    select resource_id, production_date, hours, 'downtime reason' as actual_source from recorded
    union all
    select resource_id, production_date, hours, 'production orders' from derived

),

actual as (

    select
        actual_daily.resource_id,
        {{ week_start('actual_daily.production_date') }} as week_start,
        sum(actual_daily.hours) as changeover_hours_actual,
        min(actual_daily.actual_source) as actual_source
    from actual_daily
    cross join cycle
    where actual_daily.production_date <= cycle.as_of
    group by actual_daily.resource_id, {{ week_start('actual_daily.production_date') }}

),

history as (

    select
        coalesce(planned.resource_id, actual.resource_id) as resource_id,
        coalesce(planned.week_start, actual.week_start) as week_start,
        'history' as period,
        coalesce(planned.changeover_hours_planned, 0) as changeover_hours_planned,
        coalesce(actual.changeover_hours_actual, 0) as changeover_hours_actual,
        'production orders (changeover matrix)' as planned_source,
        coalesce(actual.actual_source, 'none') as actual_source
    from planned
    full outer join actual
        on actual.resource_id = planned.resource_id and actual.week_start = planned.week_start
    cross join cycle
    where coalesce(planned.week_start, actual.week_start) < cycle.week1_start

),

horizon as (

    select
        resource_id,
        cast(week_start as date) as week_start,
        'horizon' as period,
        cast(changeover_hours_optimized as {{ type_double() }}) as changeover_hours_planned,
        cast(null as {{ type_double() }}) as changeover_hours_actual,
        'optimized sequence' as planned_source,
        cast(null as {{ dbt.type_string() }}) as actual_source
    from {{ source('supply_outputs', 'sequence_summary') }}

)

select
    history.*,
    100.0 * changeover_hours_actual / nullif(changeover_hours_planned, 0) as actual_vs_plan_pct
from history
union all
select horizon.*, cast(null as {{ type_double() }}) from horizon
