-- Supplier OTIF and lead time per supplier over the 52 weeks to the as-of date: OTIF % = PO
-- lines received in full (received qty >= ordered) by the promised date / PO lines promised in
-- the window; lead time = order date -> first receipt (days): mean, standard deviation, and the
-- trend = mean of the last 13 weeks minus mean of the 39 before.
with

cycle as (

    select * from {{ source('meta', 'cycle') }}

),

lines as (

    select
        po.supplier_id,
        po.po_id,
        po.line,
        po.order_date,
        po.promised_date,
        po.qty,
        min(r.receipt_date) as first_receipt_date,
        sum(case when r.receipt_date <= po.promised_date then r.qty else 0 end) as qty_by_promised
    from {{ ref('stg_erp__purchase_orders') }} po
    left join {{ ref('stg_erp__receipts') }} r on r.po_id = po.po_id and r.line = po.line
    group by po.supplier_id, po.po_id, po.line, po.order_date, po.promised_date, po.qty

),

windowed as (

    select
        lines.*,
        {{ dbt.datediff('lines.order_date', 'lines.first_receipt_date', 'day') }} as lead_time_days,
        lines.order_date > {{ dbt.dateadd('week', -13, 'cycle.as_of') }} as is_recent
    from lines
    cross join cycle
    where lines.promised_date <= cycle.as_of
      and lines.promised_date > {{ dbt.dateadd('week', -52, 'cycle.as_of') }}

)

select
    windowed.supplier_id,
    suppliers.supplier_name,
    suppliers.country,
    suppliers.route,
    count(*) as po_lines,
    100.0 * avg(case when windowed.qty_by_promised >= windowed.qty then 1.0 else 0.0 end) as otif_pct,
    avg(windowed.lead_time_days) as lead_time_mean_days,
    stddev_samp(windowed.lead_time_days) as lead_time_sd_days,
    avg(case when windowed.is_recent then windowed.lead_time_days end)
        - avg(case when not windowed.is_recent then windowed.lead_time_days end) as lead_time_trend_days
from windowed
left join {{ ref('stg_erp__suppliers') }} suppliers on suppliers.supplier_id = windowed.supplier_id
group by windowed.supplier_id, suppliers.supplier_name, suppliers.country, suppliers.route
