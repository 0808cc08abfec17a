-- What demand sensing changed in weeks 0-6 and why, per SKU.
with

sensing as (

    select * from {{ source('analytics', 'demand_sensing') }}

),

final as (

    select
        sku,
        family,
        cast(week_start as date) as week_start,
        cast(horizon_week as integer) as horizon_week,
        baseline_units,
        sensed_units,
        delta_units,
        delta_pct,
        b2b_booked_units,
        b2b_usual_booked_share,
        week0_pos_units,
        signals_used,
        signals_missing,
        reason,
        rule_units,
        method
    from sensing

)

select * from final
