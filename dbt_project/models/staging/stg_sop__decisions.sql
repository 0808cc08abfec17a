with

source as (

    select * from {{ source('sop', 'decisions') }}

),

renamed as (

    select
        ---------- ids
        cast({{ adapter.quote('cycle') }} as date) as cycle_date,
        cast(kind as {{ dbt.type_string() }}) as kind,
        cast(subject as {{ dbt.type_string() }}) as subject,

        ---------- text
        cast({{ adapter.quote('value') }} as {{ dbt.type_string() }}) as decision_value,
        cast(approved as {{ dbt.type_string() }}) as approved,
        cast(accountable as {{ dbt.type_string() }}) as accountable,
        cast(responsible as {{ dbt.type_string() }}) as responsible,

        ---------- timestamps
        cast(decided_at as {{ dbt.type_timestamp() }}) as decided_at,

        ---------- derived
        case when approved = 'yes' then true when approved = 'no' then false end as is_approved,
        {{ week_start('decided_at') }} as week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('sop', 'decisions'), known=['cycle', 'kind', 'subject', 'value', 'approved', 'accountable', 'responsible', 'decided_at', 'cycle_date', 'decision_value', 'is_approved', 'week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
