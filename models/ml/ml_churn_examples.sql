{#-
    Churn training examples: the features of customers with a purchase
    history at each churn cutoff, with the label of the window after it.
-#}
with

features as (
    select * from {{ ref('feat_customers_training') }}
),

labels as (
    select * from {{ ref('lbl_churn') }}
    where had_purchase_before
),

final as (
    select
        features.*,
        labels.window_index,
        labels.as_of_date,
        labels.is_churned
    from features
    inner join labels
        on
            features.customer_id = labels.customer_id
            and features.cutoff_date = labels.cutoff_date
)

select * from final
