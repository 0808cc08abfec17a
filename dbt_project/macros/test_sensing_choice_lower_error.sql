{#- Generic test: per lag, learned sensing is chosen exactly where its backtest WAPE is below the rule's. -#}
{% test sensing_choice_lower_error(model) %}
select * from {{ model }}
where chosen <> case
        when wape_learned is not null and wape_rule is not null and wape_learned < wape_rule then 'learned'
        else 'rule'
    end
{% endtest %}
