with

source as (

    select * from {{ source('erp', 'expedites') }}

),

renamed as (

    select
        ---------- ids
        cast(expedite_id as {{ dbt.type_string() }}) as expedite_id,
        cast(sku as {{ dbt.type_string() }}) as sku,
        cast(order_id as {{ dbt.type_string() }}) as order_id,

        ---------- text
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(approved as {{ dbt.type_string() }}) as approved,

        ---------- numerics
        cast(cost as {{ type_double() }}) as cost,

        ---------- dates
        cast({{ adapter.quote('date') }} as date) as expedite_date,

        ---------- derived
        case when approved = 'yes' then true when approved = 'no' then false end as is_approved,
        {{ week_start(adapter.quote('date')) }} as week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('erp', 'expedites'), known=['expedite_id', 'date', 'sku', 'order_id', 'reason', 'cost', 'approved', 'expedite_date', 'is_approved', 'week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
