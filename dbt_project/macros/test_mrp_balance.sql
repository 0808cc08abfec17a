{#- Generic test (component_requirements): projected on hand = previous projected (week 1: opening
    on hand) + scheduled receipts + planned receipts - gross, and never negative. -#}
{% test mrp_balance(model) %}
with ordered as (
    select
        component_sku,
        week_start,
        projected_on_hand_units,
        coalesce(
            lag(projected_on_hand_units) over (partition by component_sku order by week_start),
            opening_on_hand_units
        ) + scheduled_receipts_units + planned_receipt_units - gross_units as expected
    from {{ model }}
)
select * from ordered
where abs(projected_on_hand_units - expected) > 1e-6 * (1 + abs(expected))
   or projected_on_hand_units < -1e-6
{% endtest %}
