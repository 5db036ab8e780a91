{#-
    Support history per customer and cutoff. A ticket's closing and its CSAT
    score count only when they happened before the cutoff.
-#}
with

tickets as (
    select * from {{ ref('stg_shop__support_tickets') }}
),

cutoffs as (
    {{ cutoffs_relation(feature_cutoffs()) }}
),

tickets_before_cutoff as (
    select
        tickets.customer_id,
        cutoffs.cutoff_date,
        tickets.opened_at,
        coalesce(tickets.closed_at < cutoffs.cutoff_at, false)
            as is_closed_before_cutoff,
        case
            when tickets.closed_at < cutoffs.cutoff_at then tickets.csat_score
        end as known_csat_score,
        case
            when tickets.closed_at < cutoffs.cutoff_at then tickets.closed_at
            else tickets.opened_at
        end as known_at,
        {{ days_before('cast(tickets.opened_at as date)',
            'cutoffs.cutoff_date') }} as days_before_cutoff
    from tickets
    inner join cutoffs
        on tickets.opened_at < cutoffs.cutoff_at
    where {{ in_feature_population('tickets.customer_id') }}
),

final as (
    select
        customer_id,
        cutoff_date,
        count(*) as ticket_count,
        {{ count_if('days_before_cutoff <= 90') }} as tickets_last_90d,
        {{ count_if('not is_closed_before_cutoff') }} as open_ticket_count,
        avg(known_csat_score) as avg_csat_score,
        {{ count_if('known_csat_score <= 2') }} as low_csat_ticket_count,
        min(days_before_cutoff) as days_since_last_ticket,
        max(known_at) as max_source_at
    from tickets_before_cutoff
    group by customer_id, cutoff_date
)

select * from final
