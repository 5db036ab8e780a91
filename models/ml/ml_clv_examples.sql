{#-
    CLV training examples: the features of every customer at the CLV cutoff
    (as_of_date - clv_horizon_days), with the net revenue of the horizon after
    it.
-#}
with

features as (
    select * from {{ ref('feat_customers_training') }}
),

labels as (
    select * from {{ ref('lbl_clv') }}
    where window_index = 1
),

final as (
    select
        features.*,
        labels.as_of_date,
        labels.window_revenue,
        labels.has_full_history
    from features
    inner join labels
        on
            features.customer_id = labels.customer_id
            and features.cutoff_date = labels.cutoff_date
)

select * from final
