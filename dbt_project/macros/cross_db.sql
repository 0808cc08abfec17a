{#- Cross-database helpers where dbt has no macro of its own. Each has a DuckDB version (the SQL
    the project used before it ran on PostgreSQL, so DuckDB warehouses stay bit-identical) and a
    default version that PostgreSQL runs. -#}

{#- One row per day from start to end (dates, both included); use in a select list. -#}
{% macro date_range_to_rows(start_date, end_date) -%}
    {{ return(adapter.dispatch('date_range_to_rows')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__date_range_to_rows(start_date, end_date) -%}
    cast(generate_series(cast(cast({{ start_date }} as date) as timestamp), cast(cast({{ end_date }} as date) as timestamp),
                         interval '1 day') as date)
{%- endmacro %}

{% macro duckdb__date_range_to_rows(start_date, end_date) -%}
    cast(unnest(generate_series(cast({{ start_date }} as date), cast({{ end_date }} as date),
                                interval 1 day)) as date)
{%- endmacro %}

{#- The length of an interval (the difference of two timestamps) in seconds, as a double. -#}
{% macro interval_seconds(expr) -%}
    {{ return(adapter.dispatch('interval_seconds')(expr)) }}
{%- endmacro %}

{% macro default__interval_seconds(expr) -%}
    cast(extract(epoch from {{ expr }}) as {{ type_double() }})
{%- endmacro %}

{% macro duckdb__interval_seconds(expr) -%}
    epoch({{ expr }})
{%- endmacro %}

{#- A timestamp plus a number of microseconds (an integer expression). -#}
{% macro add_microseconds(timestamp_expr, microseconds) -%}
    {{ return(adapter.dispatch('add_microseconds')(timestamp_expr, microseconds)) }}
{%- endmacro %}

{% macro default__add_microseconds(timestamp_expr, microseconds) -%}
    ({{ timestamp_expr }} + ({{ microseconds }}) * interval '1 microsecond')
{%- endmacro %}

{% macro duckdb__add_microseconds(timestamp_expr, microseconds) -%}
    {{ timestamp_expr }} + to_microseconds({{ microseconds }})
{%- endmacro %}

{#- A number rounded to `digits` decimals, as text, the way DuckDB prints a rounded double
    (shortest form that reads back the same, with '.0' on whole numbers: 25.0, 93.1, 2.67):
    the text of alert messages and details must not depend on the engine. -#}
{% macro round_to_text(expr, digits) -%}
    {{ return(adapter.dispatch('round_to_text')(expr, digits)) }}
{%- endmacro %}

{% macro default__round_to_text(expr, digits) -%}
    regexp_replace(cast(cast(round(cast({{ expr }} as numeric), {{ digits }}) as {{ type_double() }}) as {{ dbt.type_string() }}),
                   '^(-?[0-9]+)$', '\1.0')
{%- endmacro %}

{% macro duckdb__round_to_text(expr, digits) -%}
    cast(round({{ expr }}, {{ digits }}) as {{ dbt.type_string() }})
{%- endmacro %}

{#- Post-hook of every table model: on PostgreSQL, ANALYZE the table just built, so the models and
    tests that read it next are planned with its statistics rather than the defaults of a table
    autovacuum has not sampled yet (a plan chosen without them once took kpi_scorecard from 1.5 s
    to 13.8 s on the medium demo). DuckDB keeps its statistics itself: nothing to run there. -#}
{% macro analyze_table() -%}
    {%- if target.type == 'postgres' and model.config.materialized == 'table' -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of every model: on PostgreSQL, dbt's session runs without JIT (var pg_jit, default
    off). The planner's row estimates for the marts' range joins run to billions, so PostgreSQL
    compiled most dbt queries with LLVM: 3.5 s of kpi_scorecard's 5.2 s on the medium demo. A
    session setting: it also holds for the tests dbt runs later on the same connection.
    A dbt build run by hand with pg_jit: on in its --vars keeps JIT (sop run passes its own vars,
    without it). DuckDB: nothing to run. -#}
{% macro postgres_session() -%}
    {%- if target.type == 'postgres' -%}
        set jit = {{ var('pg_jit', 'off') }}
    {%- endif -%}
{%- endmacro %}
