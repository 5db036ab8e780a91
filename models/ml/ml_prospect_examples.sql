{#-
    Prospect examples (predictive_segments.prospects): the features of every
    customer known at the prospect cutoff (as_of_date minus
    prospect_window_days()) without a purchase before it, with what they
    did in the window after it. The BG/NBD rung of the short-history ladder
    learns from them to score customers who never bought.
-#}
with

features as (
    select * from {{ ref('feat_customers_training') }}
),

outcomes as (
    {{ label_outcomes('prospects') }}
),

final as (
    select
        features.*,
        outcomes.as_of_date,
        outcomes.window_days,
        outcomes.window_order_count,
        outcomes.window_revenue
    from features
    inner join outcomes
        on
            features.customer_id = outcomes.customer_id
            and features.cutoff_date = outcomes.cutoff_date
    where not outcomes.had_purchase_before
)

select * from final
