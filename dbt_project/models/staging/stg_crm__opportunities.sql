with

source as (

    select * from {{ source('crm', 'opportunities') }}

),

cycle as (

    select as_of from {{ source('meta', 'cycle') }}

),

as_of_cycle as (

    -- as of the cycle: a deal's won/lost status is known from its status_date; without one, from its
    -- expected_date. Set after the as-of, the deal was still open then. (Deals created after the
    -- as-of were cut in ingest.)
    select
        source.*,
        case
            when source.status in ('won', 'lost')
                 and coalesce(source.status_date, source.expected_date) > cycle.as_of then 'open'
            else source.status
        end as status_as_of,
        case when source.status_date <= cycle.as_of then source.status_date end as status_date_as_of
    from source
    cross join cycle

),

renamed as (

    select
        ---------- ids
        cast(opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,

        ---------- text
        cast(sku_or_family as {{ dbt.type_string() }}) as sku_or_family,
        cast(status_as_of as {{ dbt.type_string() }}) as status,

        ---------- numerics
        cast(qty as {{ type_double() }}) as qty,
        cast(probability as {{ type_double() }}) as probability,

        ---------- dates
        cast(expected_date as date) as expected_date,
        cast(status_date_as_of as date) as status_date,
        cast(created_date as date) as created_date,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('crm', 'opportunities'), known=['opportunity_id', 'customer_id', 'sku_or_family', 'expected_date', 'qty', 'probability', 'status', 'status_date', 'created_date']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from as_of_cycle

)

select * from renamed
