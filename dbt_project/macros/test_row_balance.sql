{#- Generic test: rows read = rows loaded + quarantined + after as-of, for every extract. -#}
{% test row_balance(model) %}
select * from {{ model }}
where rows_read <> rows_loaded + rows_quarantined + rows_after_as_of
{% endtest %}
