-- The changeover matrix (minutes from one setup key to the next) per resource.
select resource_id, from_key, to_key, changeover_minutes
from {{ ref('stg_mes__changeovers') }}
