with

source as (

    select * from {{ source('sop', 'plan_history') }}

),

renamed as (

    select
        ---------- ids
        cast(cycle_id as date) as cycle_id,
        cast(sku as {{ dbt.type_string() }}) as sku,
        cast(week_start as date) as week_start,

        ---------- text
        cast(family as {{ dbt.type_string() }}) as family,

        ---------- numerics
        cast(demand_units as {{ type_double() }}) as demand_units,
        cast(supply_units as {{ type_double() }}) as supply_units,
        cast(revenue as {{ type_double() }}) as revenue,

        ---------- derived
        {{ week_start('week_start') }} as iso_week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('sop', 'plan_history'), known=['cycle_id', 'sku', 'week_start', 'demand_units', 'supply_units', 'revenue', 'family', 'iso_week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
