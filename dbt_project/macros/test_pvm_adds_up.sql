{#- Data test: price + volume + mix = total difference = actual - base, on every bridge row.
    `actual` / `base` name the two revenue columns (the plan-vs-finance bridge calls them
    revenue_plan_of_record / revenue_finance_plan). Rows with no bridge (effects null) pass. -#}
{% test pvm_adds_up(model, actual='revenue_actual', base='revenue_base') %}
select * from {{ model }}
where abs(price_effect + volume_effect + mix_effect - total_difference) > 1e-6
   or abs({{ actual }} - {{ base }} - total_difference) > 1e-6
{% endtest %}
