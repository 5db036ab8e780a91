{#-
    One row per identified session and feature cutoff (feature_cutoffs();
    before as_of_date only for the customers of int_feature_population):
    the session as it was known at the cutoff, from its events that occurred
    and were received strictly before it. A session still going on at a
    cutoff, or whose other events arrive late, counts with the events known
    then: whether it counts never depends on data on or after the cutoff.
-#}
with

events as (
    select * from {{ ref('stg_shop__events') }}
    where customer_id is not null
),

cutoffs as (
    {{ cutoffs_relation(feature_cutoffs()) }}
),

sessions_complete as (
    -- Every session once, from all its events (int_sessions, incremental):
    -- what each cutoff sees of it when the session was completely known
    -- before that cutoff.
    select * exclude (_events_loaded_at, _change)
    from {{ ref('int_sessions') }}
),

complete_at_cutoff as (
    select
        sessions_complete.*,
        cutoffs.cutoff_date
    from sessions_complete
    inner join cutoffs
        on
            greatest(
                sessions_complete.ended_at, sessions_complete.last_received_at
            ) < cutoffs.cutoff_at
    where {{ in_feature_population('sessions_complete.customer_id') }}
),

straddling as materialized (
    -- Sessions started before a cutoff but not completely known then
    -- (still going on, or with events received later): few, recomputed from
    -- the events known at that cutoff. Materialized: inlined, the planner
    -- joined all events to all cutoffs first (33M rows at 100k customers)
    -- and only then kept the few straddling sessions.
    select
        sessions_complete.session_id,
        cutoffs.cutoff_date,
        cutoffs.cutoff_at
    from sessions_complete
    inner join cutoffs
        on
            sessions_complete.started_at < cutoffs.cutoff_at
            and greatest(
                sessions_complete.ended_at, sessions_complete.last_received_at
            ) >= cutoffs.cutoff_at
    where {{ in_feature_population('sessions_complete.customer_id') }}
),

events_known_at_straddled_cutoff as (
    select
        events.*,
        straddling.cutoff_date
    from events
    inner join straddling
        on
            events.session_id = straddling.session_id
            and events.occurred_at < straddling.cutoff_at
            and events.received_at < straddling.cutoff_at
),

partial_at_cutoff as (
    select
        session_id,
        {{ session_aggregates() }},
        cutoff_date
    from events_known_at_straddled_cutoff
    group by session_id, cutoff_date
),

sessions as (
    select * from complete_at_cutoff
    union all
    select * from partial_at_cutoff
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
        cutoff_date,
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
