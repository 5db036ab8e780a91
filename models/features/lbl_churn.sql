{#-
    Churn labels: customers with a purchase before the churn cutoff
    (as_of_date - churn_window_days) who made no purchase in the following
    churn_window_days. Customers without a purchase history are kept with
    had_purchase_before = false (models leave them out of churn training).
-#}
with

outcomes as (
    {{ order_outcomes_after(training_cutoffs()['churn'],
        var('churn_window_days')) }}
),

final as (
    select
        outcomes.*,
        outcomes.had_purchase_before and outcomes.window_order_count = 0
            as is_churned
    from outcomes
)

select * from final
