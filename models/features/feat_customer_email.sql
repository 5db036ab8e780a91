{#- E-mail engagement per customer and cutoff, and its trend. -#}
with

email_events as (
    select * from {{ ref('stg_shop__email_events') }}
),

cutoffs as (
    {{ cutoffs_relation(feature_cutoffs()) }}
),

events_before_cutoff as (
    select
        email_events.customer_id,
        email_events.event_type,
        email_events.occurred_at,
        cutoffs.cutoff_date,
        {{ days_before('email_events.occurred_date', 'cutoffs.cutoff_date') }}
            as days_before_cutoff
    from email_events
    inner join cutoffs
        on email_events.occurred_at < cutoffs.cutoff_at
    where {{ in_feature_population('email_events.customer_id') }}
),

aggregated as (
    select
        customer_id,
        cutoff_date,
        {{ count_if("event_type = 'delivered'") }} as emails_delivered,
        {{ count_if("event_type = 'delivered' and days_before_cutoff <= 90") }}
            as emails_delivered_last_90d,
        {{ count_if("event_type = 'open' and days_before_cutoff <= 90") }}
            as email_opens_last_90d,
        {{ count_if("event_type = 'click' and days_before_cutoff <= 90") }}
            as email_clicks_last_90d,
        {{ count_if("event_type = 'delivered' "
            ~ "and days_before_cutoff between 91 and 180") }}
            as emails_delivered_prev_90d,
        {{ count_if("event_type = 'open' "
            ~ "and days_before_cutoff between 91 and 180") }}
            as email_opens_prev_90d,
        {{ count_if("event_type = 'unsubscribe'") }} > 0 as is_unsubscribed,
        min(case when event_type = 'open' then days_before_cutoff end)
            as days_since_last_email_open,
        max(occurred_at) as max_source_at
    from events_before_cutoff
    group by customer_id, cutoff_date
),

final as (
    select
        customer_id,
        cutoff_date,
        emails_delivered,
        emails_delivered_last_90d,
        {{ safe_divide('email_opens_last_90d', 'emails_delivered_last_90d') }}
            as email_open_rate_90d,
        {{ safe_divide('email_clicks_last_90d', 'emails_delivered_last_90d') }}
            as email_click_rate_90d,
        {{ safe_divide('email_opens_last_90d', 'emails_delivered_last_90d') }}
        - {{ safe_divide('email_opens_prev_90d', 'emails_delivered_prev_90d') }}
            as email_open_rate_trend,
        is_unsubscribed,
        days_since_last_email_open,
        max_source_at
    from aggregated
)

select * from final
