{#-
    History of the published scores that can be backtested: one row per
    as_of_date and customer of fct_customer_scores, with the model versions
    behind the scores and the windows (vars) the scores are for, so that a
    later build can compare them with what happened since
    (rpt_model_backtest).

    Incremental, delete+insert on as_of_date (config in _marts__models.yml):
    a build replaces the rows of its own as_of_date and leaves every other
    date alone, so rebuilding a date is idempotent and a build at an earlier
    as_of_date keeps the rows of later dates (they stay the record of what
    was published then). full_refresh is false: like the model registries,
    the history is not rebuilt from scratch by --full-refresh.
    Lookalike and uplift are left out: a lookalike score ranks similarity
    to the current top-value seed, not an outcome, and an uplift score can
    only be checked against a randomized assignment made after it.
-#}
with

customer_scores as (
    select * from {{ ref('fct_customer_scores') }}
),

final as (
    select
        customer_scores.customer_id,
        customer_scores.churn_model_version,
        customer_scores.purchase_model_version,
        customer_scores.clv_model_kind,
        customer_scores.clv_model_version,
        cast('{{ invocation_id }}' as {{ dbt.type_string() }}) as run_id,
        customer_scores.churn_probability,
        customer_scores.purchase_probability,
        customer_scores.predicted_clv,
        customer_scores.predicted_clv_p10,
        customer_scores.predicted_clv_p90,
        cast({{ var('churn_window_days') | int }} as integer)
            as churn_window_days,
        cast({{ var('propensity_window_days') | int }} as integer)
            as propensity_window_days,
        cast({{ var('clv_horizon_days') | int }} as integer)
            as clv_horizon_days,
        customer_scores.as_of_date
    from customer_scores
)

select * from final
