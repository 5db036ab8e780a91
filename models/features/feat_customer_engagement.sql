{#-
    Web and app engagement per customer and cutoff, from the sessions as they
    were known at the cutoff (int_events_sessionized). The *_recent columns
    count the last var high_intent_days days (the high-intent signals of the
    marts), named independently of that window.
-#}
{%- set recent_days = whole_number_var(
    'high_intent_days', 'days',
    'customers with an abandoned cart or a pricing page view that recent '
    ~ 'are high intent.') -%}
{%- set is_recent = 'days_before_cutoff <= ' ~ recent_days -%}
with

sessions as (
    select * from {{ ref('int_events_sessionized') }}
),

sessions_before_cutoff as (
    select
        sessions.*,
        {{ days_before('sessions.started_date', 'sessions.cutoff_date') }}
            as days_before_cutoff
    from sessions
),

aggregated as (
    select
        customer_id,
        cutoff_date,
        count(*) as session_count,
        {{ count_if('days_before_cutoff <= 30') }} as sessions_last_30d,
        {{ count_if('days_before_cutoff between 31 and 90') }}
            as sessions_prev_60d,
        {{ count_if('days_before_cutoff <= 90') }} as sessions_last_90d,
        avg(event_count) as avg_events_per_session,
        avg(product_view_count) as avg_product_views_per_session,
        avg(category_count) as avg_categories_per_session,
        {{ sum_if('days_before_cutoff <= 30', 'product_view_count') }}
            as product_views_last_30d,
        {{ sum_if('days_before_cutoff <= 30', 'pricing_view_count') }}
            as pricing_views_last_30d,
        {{ sum_if('days_before_cutoff <= 30', 'docs_view_count') }}
            as docs_views_last_30d,
        {{ sum_if('days_before_cutoff <= 30', 'search_count') }}
            as searches_last_30d,
        {{ sum_if('days_before_cutoff <= 30', 'add_to_cart_count') }}
            as add_to_carts_last_30d,
        {{ count_if('is_cart_abandoned and days_before_cutoff <= 30') }}
            as abandoned_carts_last_30d,
        {{ count_if('is_cart_abandoned and ' ~ is_recent) }}
            as abandoned_carts_recent,
        {{ sum_if(is_recent, 'pricing_view_count') }} as pricing_views_recent,
        {{ safe_divide(count_if('is_cart_abandoned'),
            count_if('add_to_cart_count > 0')) }} as cart_abandonment_rate,
        {{ safe_divide(count_if('checkout_count > 0'), 'count(*)') }}
            as session_conversion_rate,
        min(days_before_cutoff) as days_since_last_session,
        min(case when is_cart_abandoned then days_before_cutoff end)
            as days_since_last_abandoned_cart,
        min(case when pricing_view_count > 0 then days_before_cutoff end)
            as days_since_last_pricing_view,
        {{ safe_divide(count_if("device = 'mobile'"), 'count(*)') }}
            as mobile_session_share,
        {{ safe_divide(count_if("device = 'tablet'"), 'count(*)') }}
            as tablet_session_share,
        max(known_at) as max_source_at
    from sessions_before_cutoff
    group by customer_id, cutoff_date
),

final as (
    select
        customer_id,
        cutoff_date,
        session_count,
        sessions_last_30d,
        sessions_prev_60d,
        sessions_last_90d,
        {{ log_ratio('sessions_last_30d', 'sessions_prev_60d / 2.0') }}
            as engagement_velocity,
        avg_events_per_session,
        avg_product_views_per_session,
        avg_categories_per_session,
        product_views_last_30d,
        pricing_views_last_30d,
        docs_views_last_30d,
        searches_last_30d,
        add_to_carts_last_30d,
        abandoned_carts_last_30d,
        abandoned_carts_recent,
        pricing_views_recent,
        cart_abandonment_rate,
        session_conversion_rate,
        days_since_last_session,
        days_since_last_abandoned_cart,
        days_since_last_pricing_view,
        mobile_session_share,
        tablet_session_share,
        max_source_at
    from aggregated
)

select * from final
