{% macro session_aggregates() -%}
    {#-
        The aggregates of one session over its events (stg_shop__events
        columns): int_sessions computes them over all of a session's events,
        int_events_sessionized over those known at a cutoff.
    -#}
        min(customer_id) as customer_id,
        min(device) as device,
        count(*) as event_count,
        sum(case when event_type = 'page_view' then 1 else 0 end)
            as page_view_count,
        sum(case when event_type = 'product_view' then 1 else 0 end)
            as product_view_count,
        sum(case when event_type = 'add_to_cart' then 1 else 0 end)
            as add_to_cart_count,
        sum(case when event_type = 'checkout' then 1 else 0 end)
            as checkout_count,
        sum(case when event_type = 'pricing_view' then 1 else 0 end)
            as pricing_view_count,
        sum(case when event_type = 'search' then 1 else 0 end)
            as search_count,
        sum(case when event_type = 'docs_view' then 1 else 0 end)
            as docs_view_count,
        count(distinct category) as category_count,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        max(received_at) as last_received_at
{%- endmacro %}
