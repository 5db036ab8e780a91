{#-
    Every published score of each customer as of as_of_date, with the model
    version behind each: only latest approved models publish (a rejected
    model's scores never reach the score tables). Per family a status
    (scored, insufficient_data, rejected, never_trained) and a note saying
    why its scores are null (int_customer_scores_banded).
-#}
with

customer_scores as (
    select * from {{ ref('int_customer_scores_banded') }}
),

final as (
    select
        customer_scores.customer_id,
        customer_scores.main_campaign_id,
        customer_scores.churn_reasons,
        customer_scores.clv_model_kind,
        customer_scores.clv_method,
        customer_scores.churn_method,
        customer_scores.purchase_method,
        customer_scores.clv_model_version,
        customer_scores.churn_model_version,
        customer_scores.purchase_model_version,
        customer_scores.lookalike_model_version,
        customer_scores.uplift_group,
        customer_scores.uplift_model_version,
        customer_scores.clv_status,
        customer_scores.clv_note,
        customer_scores.churn_status,
        customer_scores.churn_note,
        customer_scores.purchase_status,
        customer_scores.purchase_note,
        customer_scores.lookalike_status,
        customer_scores.lookalike_note,
        customer_scores.uplift_status,
        customer_scores.uplift_note,
        customer_scores.predicted_clv,
        customer_scores.predicted_clv_p10,
        customer_scores.predicted_clv_p50,
        customer_scores.predicted_clv_p90,
        customer_scores.p_alive,
        customer_scores.expected_next_order_date,
        customer_scores.churn_probability,
        customer_scores.purchase_probability,
        customer_scores.lookalike_score,
        customer_scores.lookalike_percentile,
        customer_scores.lookalike_tier,
        customer_scores.uplift_score,
        customer_scores.is_rising_value,
        customer_scores.is_lookalike_seed,
        customer_scores.as_of_date
    from customer_scores
)

select * from final
