{#-
    Uplift training examples: for every campaign assignment whose outcome
    window ended by as_of_date, the customer's features as of the assignment
    date and whether (and how much) they bought within uplift_window_days
    after the assignment.
-#}
with

assignments as (
    select * from {{ ref('stg_shop__campaign_assignments') }}
    where {{ uplift_window_ended('assigned_at') }}
),

features as (
    select * from {{ ref('feat_customers_at_campaigns') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
    where not is_cancelled
),

outcomes as (
    select
        assignments.campaign_id,
        assignments.customer_id,
        {{ count_if('orders.revenue_amount > 0') }} as window_purchase_count,
        coalesce(sum(orders.revenue_amount), 0) as window_revenue
    from assignments
    left join orders
        on
            assignments.customer_id = orders.customer_id
            and assignments.assigned_at <= orders.ordered_at
            and {{ dbt.dateadd(
                'day',
                whole_number_var('uplift_window_days', 'days',
                    'the outcome window after a campaign assignment.'),
                'assignments.assigned_at') }}
            > orders.ordered_at
    group by assignments.campaign_id, assignments.customer_id
),

final as (
    select
        features.*,
        assignments.campaign_id,
        assignments.is_treated,
        outcomes.window_purchase_count > 0 as has_converted,
        outcomes.window_revenue
    from assignments
    inner join features
        on
            assignments.customer_id = features.customer_id
            and cast(assignments.assigned_at as date) = features.cutoff_date
    inner join outcomes
        on
            assignments.campaign_id = outcomes.campaign_id
            and assignments.customer_id = outcomes.customer_id
)

select * from final
