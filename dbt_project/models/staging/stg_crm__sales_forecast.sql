with

source as (

    select * from {{ source('crm', 'sales_forecast') }}

),

renamed as (

    select
        ---------- ids
        cast(snapshot_date as date) as snapshot_date,
        cast(sku as {{ dbt.type_string() }}) as sku,
        cast(week_start as date) as week_start,
        cast({{ adapter.quote('source') }} as {{ dbt.type_string() }}) as forecast_source,

        ---------- numerics
        cast(units as {{ type_double() }}) as units,

        ---------- derived
        {{ week_start('snapshot_date') }} as snapshot_week_start,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('crm', 'sales_forecast'), known=['snapshot_date', 'sku', 'week_start', 'units', 'source', 'forecast_source', 'snapshot_week_start']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
