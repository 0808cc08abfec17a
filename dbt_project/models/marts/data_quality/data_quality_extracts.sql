-- One row per extract of the contract: was it there, how many rows made it into the cycle.
with cycle as (
    select * from {{ source('meta', 'cycle') }}
),

ingest_log as (
    select * from {{ source('meta', 'ingest_log') }}
),

final as (
    select
        cycle.cycle_id,
        ingest_log.extract,
        ingest_log.status,
        ingest_log.file,
        ingest_log.rows_read,
        ingest_log.rows_loaded,
        ingest_log.rows_quarantined,
        ingest_log.rows_after_as_of,
        case when ingest_log.rows_read > 0
             then round(100.0 * ingest_log.rows_quarantined / ingest_log.rows_read, 3) end as quarantined_pct,
        ingest_log.failures_by_rule,
        ingest_log.notes
    from ingest_log
    cross join cycle
)

select * from final
