with

source as (

    select * from {{ source('sop', 'raci') }}

),

renamed as (

    select
        ---------- ids
        cast(area as {{ dbt.type_string() }}) as area,
        cast(kind as {{ dbt.type_string() }}) as kind,

        ---------- text
        cast(owner as {{ dbt.type_string() }}) as owner,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('sop', 'raci'), known=['area', 'kind', 'owner']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
