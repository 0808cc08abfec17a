{#- ISO week start (Monday) of a date or timestamp, as a date. DuckDB, Postgres and
    Spark truncate weeks to Monday; on Snowflake set WEEK_START = 1. -#}
{% macro week_start(expr) -%}
    cast({{ dbt.date_trunc('week', expr) }} as date)
{%- endmacro %}
