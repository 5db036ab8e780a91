-- depends_on: {{ ref('stg_shop__raw_table_loads') }}
-- (the guards before features: macros/staging/raw_table_loads.sql)
with

base as (
    select * from {{ ref('base_shop__events') }}
    where _row_status = 'staged'
),

final as (
    select
        event_id,
        session_id,
        customer_id,
        event_type,
        category,
        device,
        user_agent,
        coalesce(
            {{ dbt.datediff('occurred_at', '_received_at', 'hour') }}
            > {{ whole_number_var(
                'late_arrival_hours', 'hours',
                'an event received more hours after it occurred is late.') }},
            false
        ) as is_late_arrival,
        cast(occurred_at as date) as occurred_date,
        occurred_at,
        coalesce(_received_at, occurred_at) as received_at
    from base
)

select * from final
