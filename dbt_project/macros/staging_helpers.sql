{#- Helpers for the staging layer. -#}

{#- A 64-bit float type. dbt.type_float() is FLOAT, which DuckDB reads as a 32-bit REAL;
    the contract's float columns are DOUBLE in raw, so staging keeps them double. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    {{ return('double precision') }}
{%- endmacro %}

{% macro bigquery__type_double() -%}
    {{ return('float64') }}
{%- endmacro %}

{% macro spark__type_double() -%}
    {{ return('double') }}
{%- endmacro %}

{% macro databricks__type_double() -%}
    {{ return('double') }}
{%- endmacro %}

{#- Select list for the columns of a raw extract that are not in the contract ("extra
    columns are kept", DESIGN.md), each cast to text under its own name and followed by a
    comma. `known` lists the contract columns and the staging model's own output names, so
    an extra column never clashes with a staged one; _source_row is always excluded.
    Renders nothing at parse time or when the relation does not exist yet. -#}
{% macro source_extra_columns(relation, known) -%}
    {%- if execute -%}
        {%- set skip = (known | map('lower') | list) + ['_source_row'] -%}
        {%- set selected = [] -%}
        {%- for column in adapter.get_columns_in_relation(relation) if column.name | lower not in skip -%}
            {%- do selected.append('cast(' ~ adapter.quote(column.name) ~ ' as ' ~ dbt.type_string() ~ ') as ' ~ adapter.quote(column.name) ~ ',') -%}
        {%- endfor -%}
        {{- selected | join('\n        ') -}}
    {%- endif -%}
{%- endmacro %}
