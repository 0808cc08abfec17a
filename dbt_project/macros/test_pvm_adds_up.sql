{#- Data test: price + volume + mix = total difference = actual - base, on every bridge row. -#}
{% test pvm_adds_up(model) %}
select * from {{ model }}
where abs(price_effect + volume_effect + mix_effect - total_difference) > 1e-6
   or abs(revenue_actual - revenue_base - total_difference) > 1e-6
{% endtest %}
