-- depends_on: {{ ref('stg_shop__raw_table_loads') }}
-- (the guards before features: macros/staging/raw_table_loads.sql)
with

base as (
    select * from {{ ref('base_shop__email_events') }}
    where _row_status = 'staged'
),

final as (
    select
        email_event_id,
        customer_id,
        email_campaign_id,
        event_type,
        cast(occurred_at as date) as occurred_date,
        occurred_at
    from base
)

select * from final
