{#- Generic test: the column rules of one model in one test (one dbt node, one Dagster check)
    instead of one test per rule and column. Each rule means what dbt's built-in test of the same
    name means:
    - not_null: [col, ...]            no row has an empty col;
    - unique: [col, ...]              no non-empty value of col appears on two rows;
    - accepted_values: {col: [v, ...]}  every non-empty col is one of the values (strings are
                                      compared as text, numbers as numbers);
    - unique_key: [col, ...]          the combination of the columns is unique (the model's grain,
                                      as unique_combination: empty values count as a value).
    Returns one row per rule and column that fails: rule, column_name, failing_rows (rows with an
    empty / unaccepted value, or sharing a duplicated value) and example (one offending value), so
    a failure names the column; dbt's failure count is the sum of failing_rows. Not-null and
    accepted-values rules are evaluated in one scan of the model. -#}
{% test column_rules(model, not_null=[], unique=[], accepted_values={}, unique_key=[]) %}
{{ config(fail_calc='coalesce(sum(failing_rows), 0)') }}
{%- set text = dbt.type_string() -%}
{%- set bigint = dbt.type_bigint() -%}
{%- set ns = namespace(union='') -%}
with
{%- if not_null or accepted_values %}
scanned as (
    select
    {%- for column in not_null %}
        sum(case when {{ column }} is null then 1 else 0 end) as not_null_{{ loop.index }},
    {%- endfor %}
    {%- for column, values in accepted_values.items() %}
        {%- set accepted = column_rules_sql_values(values) %}
        sum(case when {{ column }} not in ({{ accepted }}) then 1 else 0 end) as accepted_{{ loop.index }},
        min(case when {{ column }} not in ({{ accepted }}) then cast({{ column }} as {{ text }}) end) as accepted_example_{{ loop.index }},
    {%- endfor %}
        count(*) as scanned_rows
    from {{ model }}
),
{%- endif %}
failures as (
{%- for column in not_null %}
    {{ ns.union }}
    select cast('not_null' as {{ text }}) as rule, cast('{{ column }}' as {{ text }}) as column_name,
           cast(not_null_{{ loop.index }} as {{ bigint }}) as failing_rows, cast(null as {{ text }}) as example
    from scanned
    {%- set ns.union = 'union all' %}
{%- endfor %}
{%- for column in accepted_values %}
    {{ ns.union }}
    select cast('accepted_values' as {{ text }}) as rule, cast('{{ column }}' as {{ text }}) as column_name,
           cast(accepted_{{ loop.index }} as {{ bigint }}) as failing_rows, accepted_example_{{ loop.index }} as example
    from scanned
    {%- set ns.union = 'union all' %}
{%- endfor %}
{%- for column in unique %}
    {{ ns.union }}
    select cast('unique' as {{ text }}) as rule, cast('{{ column }}' as {{ text }}) as column_name,
           cast(coalesce(sum(n_rows), 0) as {{ bigint }}) as failing_rows, min(cast(value_field as {{ text }})) as example
    from (
        select {{ column }} as value_field, count(*) as n_rows
        from {{ model }}
        where {{ column }} is not null
        group by {{ column }}
        having count(*) > 1
    ) duplicated
    {%- set ns.union = 'union all' %}
{%- endfor %}
{%- if unique_key %}
    {{ ns.union }}
    select cast('unique_key' as {{ text }}) as rule, cast('{{ unique_key | join(", ") }}' as {{ text }}) as column_name,
           cast(coalesce(sum(n_rows), 0) as {{ bigint }}) as failing_rows, min(key_text) as example
    from (
        select
            {% for column in unique_key -%}
            coalesce(cast({{ column }} as {{ text }}), 'null'){% if not loop.last %} || ', ' || {% endif %}
            {%- endfor %} as key_text,
            count(*) as n_rows
        from {{ model }}
        group by {{ unique_key | join(', ') }}
        having count(*) > 1
    ) duplicated
{%- endif %}
)
select * from failures where failing_rows > 0
{% endtest %}

{#- The SQL list of accepted values: strings quoted (as dbt's accepted_values with quote: true),
    numbers as they are (quote: false). -#}
{% macro column_rules_sql_values(values) -%}
    {%- for value in values -%}
        {%- if value is string -%}'{{ value | replace("'", "''") }}'{%- else -%}{{ value }}{%- endif -%}
        {%- if not loop.last %}, {% endif -%}
    {%- endfor -%}
{%- endmacro %}
