with

source as (

    select * from {{ source('mes', 'changeovers') }}

),

renamed as (

    select
        ---------- ids
        cast(resource_id as {{ dbt.type_string() }}) as resource_id,
        cast(from_key as {{ dbt.type_string() }}) as from_key,
        cast(to_key as {{ dbt.type_string() }}) as to_key,

        ---------- numerics
        cast(minutes as {{ type_double() }}) as changeover_minutes,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('mes', 'changeovers'), known=['resource_id', 'from_key', 'to_key', 'minutes', 'changeover_minutes']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
