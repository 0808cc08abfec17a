-- Promo substitution proposals (awaiting Sales' approval).
select promo_id, sku, substitute_sku, units, cast(available_from as date) as available_from, reason, status
from {{ source('plan_outputs', 'substitution_plan') }}
