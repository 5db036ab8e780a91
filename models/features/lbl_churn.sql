{#-
    Churn labels: customers with a purchase before a churn cutoff who made no
    purchase in the following churn_window_days. One set of rows per cutoff
    (as_of_date minus 1, 2, ... churn windows; window_index 1 is the newest). Customers without a purchase history are kept with
    had_purchase_before = false (models leave them out of churn training).
-#}
with

outcomes as (
    {{ label_outcomes('churn') }}
),

final as (
    select
        outcomes.*,
        outcomes.had_purchase_before and outcomes.window_order_count = 0
            as is_churned
    from outcomes
)

select * from final
