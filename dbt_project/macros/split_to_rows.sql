{#- One row per item of a comma-separated text column (use in a select list; empty items stay
    as ''). DuckDB and Postgres unnest an array; other adapters can add their own version. -#}
{% macro split_to_rows(expr, sep=',') -%}
    {{ return(adapter.dispatch('split_to_rows')(expr, sep)) }}
{%- endmacro %}

{% macro default__split_to_rows(expr, sep) -%}
    unnest(string_to_array({{ expr }}, '{{ sep }}'))
{%- endmacro %}

{% macro duckdb__split_to_rows(expr, sep) -%}
    unnest(string_split({{ expr }}, '{{ sep }}'))
{%- endmacro %}
