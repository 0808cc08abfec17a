-- Stock per lot on the last inventory snapshot on or before the as-of (ingest already excludes
-- later snapshots), split the way the plan needs it (KPI_DEFINITIONS.md "Usable starting stock"):
-- usable = status 'available' and not expired at the start of horizon week 1; lots on hold are
-- shown but never planned; lots already expired are E&O, never planned. A usable lot that expires
-- inside the horizon leaves the plan's projection in its expiry week (`expiry_week_start`).
with

cycle as (

    select * from {{ source('meta', 'cycle') }}

),

lots as (

    select * from {{ ref('stg_erp__inventory_lots') }}
    where snapshot_date = (select max(snapshot_date) from {{ ref('stg_erp__inventory_lots') }})

),

classified as (

    select
        lots.snapshot_date,
        lots.location,
        lots.sku,
        lots.lot_id,
        lots.qty,
        lots.status,
        lots.expiry_date,
        lots.receipt_date,
        -- the lot's shelf life (days from receipt to expiry): bounds how far ahead the plan builds
        case when lots.expiry_date is not null and lots.receipt_date is not null
                  and lots.expiry_date > lots.receipt_date
             then lots.expiry_date - lots.receipt_date end as shelf_life_days,
        case when lots.expiry_date is null then null else {{ week_start('lots.expiry_date') }} end
            as expiry_week_start,
        case
            when lots.expiry_date is not null and lots.expiry_date <= cycle.as_of then 'expired'
            when lots.status <> 'available' then 'hold'
            when lots.expiry_date is not null and lots.expiry_date <= cycle.week1_start then 'expires_before_week_1'
            else 'usable'
        end as usability
    from lots
    cross join cycle

),

final as (

    select
        classified.*,
        case when usability = 'usable' then qty else 0 end as usable_units,
        case when usability = 'usable' and expiry_date is not null
                  and expiry_week_start <= (select horizon_end from cycle)
             then qty else 0 end as expiring_in_horizon_units
    from classified

)

select * from final
