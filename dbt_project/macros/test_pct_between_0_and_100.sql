{#- Generic test: percentages (rows whose unit column is '%') lie within 0-100. -#}
{% test pct_between_0_and_100(model, column_name, unit_column=none) %}
select * from {{ model }}
where {{ column_name }} is not null
  {% if unit_column %}and {{ unit_column }} = '%'{% endif %}
  and ({{ column_name }} < 0 or {{ column_name }} > 100)
{% endtest %}
