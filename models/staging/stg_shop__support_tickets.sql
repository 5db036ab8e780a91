-- depends_on: {{ ref('stg_shop__raw_table_loads') }}
-- (the guards before features: macros/staging/raw_table_loads.sql)
with

base as (
    select * from {{ ref('base_shop__support_tickets') }}
    where _row_status = 'staged'
),

final as (
    select
        ticket_id,
        customer_id,
        topic,
        csat_score,
        opened_at,
        closed_at
    from base
)

select * from final
