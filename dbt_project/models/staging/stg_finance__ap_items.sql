with

source as (

    select * from {{ source('finance', 'ap_items') }}

),

cycle as (

    select as_of from {{ source('meta', 'cycle') }}

),

as_of_cycle as (

    -- as of the cycle: a payment after the as-of is not known yet (unpaid as of the as-of); invoices
    -- dated after the as-of were cut in ingest
    select
        source.*,
        case when source.paid_date <= cycle.as_of then source.paid_date end as paid_date_as_of
    from source
    cross join cycle

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
        cast(paid_date_as_of as date) as paid_date,

        ---------- derived
        {{ week_start('doc_date') }} as week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('finance', 'ap_items'), known=['doc_id', 'party_id', 'doc_date', 'due_date', 'amount', 'paid_date', 'week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from as_of_cycle

)

select * from renamed
