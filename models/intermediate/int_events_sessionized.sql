{#-
    One row per identified session. A session counts for features at a cutoff
    only when all of it was known before the cutoff (last_received_at), so a
    late-arriving event can never leak into an earlier cutoff.
-#}
with

events as (
    select * from {{ ref('stg_shop__events') }}
    where customer_id is not null
),

sessions as (
    select
        session_id,
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
    from events
    group by session_id
),

final as (
    select
        session_id,
        customer_id,
        device,
        event_count,
        page_view_count,
        product_view_count,
        add_to_cart_count,
        checkout_count,
        pricing_view_count,
        search_count,
        docs_view_count,
        category_count,
        add_to_cart_count > 0 and checkout_count = 0 as is_cart_abandoned,
        cast(started_at as date) as started_date,
        started_at,
        ended_at,
        case
            when last_received_at > ended_at then last_received_at
            else ended_at
        end as known_at
    from sessions
)

select * from final
