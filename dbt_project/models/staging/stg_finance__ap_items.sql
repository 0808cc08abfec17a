with

source as (

    select * from {{ source('finance', 'ap_items') }}

),

renamed as (

    select
        ---------- ids
        cast(doc_id as {{ dbt.type_string() }}) as doc_id,
        cast(party_id as {{ dbt.type_string() }}) as party_id,

        ---------- numerics
        cast(amount as {{ type_double() }}) as amount,

        ---------- dates
        cast(doc_date as date) as doc_date,
        cast(due_date as date) as due_date,
        cast(paid_date as date) as paid_date,

        ---------- derived
        {{ week_start('doc_date') }} as week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('finance', 'ap_items'), known=['doc_id', 'party_id', 'doc_date', 'due_date', 'amount', 'paid_date', 'week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
