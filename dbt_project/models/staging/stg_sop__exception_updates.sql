with

source as (

    select * from {{ source('sop', 'exception_updates') }}

),

renamed as (

    select
        ---------- ids
        cast(exception_key as {{ dbt.type_string() }}) as exception_key,

        ---------- text
        cast(status as {{ dbt.type_string() }}) as status,
        cast(owner as {{ dbt.type_string() }}) as owner,
        cast(note as {{ dbt.type_string() }}) as note,
        cast(updated_by as {{ dbt.type_string() }}) as updated_by,

        ---------- dates
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        ---------- extra columns of the source file, passed through as text
        {{ source_extra_columns(source('sop', 'exception_updates'), known=['exception_key', 'status', 'owner', 'note', 'updated_by', 'updated_at']) }}

        ---------- lineage
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row

    from source

)

select * from renamed
