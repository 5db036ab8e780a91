{#-
    Purchase-propensity training examples: the features of every customer at
    each propensity cutoff, with whether they bought in the window after it.
-#}
with

features as (
    select * from {{ ref('feat_customers_training') }}
),

labels as (
    select * from {{ ref('lbl_purchase') }}
),

final as (
    select
        features.*,
        labels.window_index,
        labels.as_of_date,
        labels.has_purchased
    from features
    inner join labels
        on
            features.customer_id = labels.customer_id
            and features.cutoff_date = labels.cutoff_date
)

select * from final
