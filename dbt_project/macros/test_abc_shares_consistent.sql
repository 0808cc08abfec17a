{#- Data test: revenue shares sum to 1 (when there is revenue), and A items hold at least the
    80% cut of revenue while B+A hold at least 95% (the crossing SKU belongs to the higher class). -#}
{% test abc_shares_consistent(model) %}
with totals as (
    select
        sum(revenue_share) as share_sum,
        sum(case when abc = 'A' then revenue_share else 0 end) as a_share,
        sum(case when abc in ('A', 'B') then revenue_share else 0 end) as ab_share,
        sum(revenue_12m) as revenue
    from {{ model }}
)
select * from totals
where revenue > 0 and (abs(share_sum - 1) > 1e-9 or a_share < 0.8 - 1e-9 or ab_share < 0.95 - 1e-9)
{% endtest %}
