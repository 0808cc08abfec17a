-- Quarantined rows grouped by extract, rule and column, with an example to fix at the source.
with issues as (
    select * from {{ source('quarantine', 'issues') }}
),

grouped as (
    select
        extract,
        rule,
        column_name,
        count(*) as rows_affected,
        min(source_row) as first_source_row,
        min(reason) as example_reason,
        min(source_file) as source_file
    from issues
    group by extract, rule, column_name
)

select * from grouped
