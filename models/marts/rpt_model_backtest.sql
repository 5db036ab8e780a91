{#-
    Backtest of published scores against what happened since: for every
    earlier as_of_date d in fct_customer_score_history (d < as_of_date) and
    every model family whose scores can be checked, the outcomes seen in the
    staged orders from d up to the first of d + window and as_of_date
    (orders strictly before as_of_date only, like every model here):
      purchase_propensity  auc of purchase_probability against "bought in
                           [d, d + propensity_window_days)"
      churn                auc of churn_probability against "no purchase in
                           [d, d + churn_window_days)", for customers with a
                           purchase before d (the churn population, as
                           lbl_churn)
      clv                  top_decile_capture of the net revenue realized in
                           [d, d + clv_horizon_days) by the top 10 % on
                           predicted_clv, and realized_to_predicted_revenue:
                           realized over predicted pro-rated to the elapsed
                           share of the horizon
    A purchase is a non-cancelled order with positive revenue and revenue is
    net of refunds, as in order_outcomes_after (macros/features). While
    days_elapsed < window_days the window is incomplete
    (is_window_complete false): the outcome is the one observed so far.
    With only one as_of_date in the history, the table is empty.
-#}
{%- set as_of = date_literal(as_of_date()) -%}
{%- set purchase_condition = 'observed_orders.is_purchase' -%}
{#- An order on or after d and before d + the window of a family. -#}
{%- set in_window = {} -%}
{%- for window_days in [
    'propensity_window_days', 'churn_window_days', 'clv_horizon_days'] -%}
    {%- do in_window.update({window_days:
        'observed_orders.ordered_date >= past_scores.as_of_date'
        ~ ' and observed_orders.ordered_date < ' ~ dbt.dateadd(
            'day', 'past_scores.' ~ window_days, 'past_scores.as_of_date')}) -%}
{%- endfor -%}
with

score_history as (
    select * from {{ ref('fct_customer_score_history') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

past_scores as (
    select
        score_history.*,
        {{ dbt.datediff('score_history.as_of_date', as_of, 'day') }}
            as days_elapsed
    from score_history
    where score_history.as_of_date < {{ as_of }}
),

observed_orders as (
    {#- What this build may read: orders strictly before as_of_date. -#}
    select
        orders.customer_id,
        orders.ordered_date,
        orders.revenue_amount,
        not orders.is_cancelled and orders.revenue_amount > 0 as is_purchase
    from orders
    where orders.ordered_date < {{ as_of }}
),

customer_outcomes as (
    select
        past_scores.as_of_date,
        past_scores.customer_id,
        {{ count_if(purchase_condition
            ~ ' and observed_orders.ordered_date < past_scores.as_of_date') }}
            as purchases_before,
        {{ count_if(purchase_condition ~ ' and '
            ~ in_window['propensity_window_days']) }}
            as purchases_in_propensity_window,
        {{ count_if(purchase_condition ~ ' and '
            ~ in_window['churn_window_days']) }}
            as purchases_in_churn_window,
        {{ sum_if(in_window['clv_horizon_days'],
            'observed_orders.revenue_amount') }} as revenue_in_clv_horizon
    from past_scores
    left join observed_orders
        on past_scores.customer_id = observed_orders.customer_id
    group by past_scores.as_of_date, past_scores.customer_id
),

scored_outcomes as (
    select
        past_scores.*,
        customer_outcomes.purchases_before,
        customer_outcomes.purchases_in_propensity_window,
        customer_outcomes.purchases_in_churn_window,
        customer_outcomes.revenue_in_clv_horizon
    from past_scores
    inner join customer_outcomes
        on
            past_scores.as_of_date = customer_outcomes.as_of_date
            and past_scores.customer_id = customer_outcomes.customer_id
),

classifier_samples as (
    select
        scored_outcomes.as_of_date as scored_as_of_date,
        'purchase_propensity' as model_family,
        scored_outcomes.purchase_model_version as model_version,
        scored_outcomes.purchase_probability as score,
        scored_outcomes.propensity_window_days as window_days,
        scored_outcomes.days_elapsed,
        scored_outcomes.purchases_in_propensity_window > 0 as is_positive
    from scored_outcomes
    where scored_outcomes.purchase_probability is not null
    union all
    select
        scored_outcomes.as_of_date as scored_as_of_date,
        'churn' as model_family,
        scored_outcomes.churn_model_version as model_version,
        scored_outcomes.churn_probability as score,
        scored_outcomes.churn_window_days as window_days,
        scored_outcomes.days_elapsed,
        scored_outcomes.purchases_in_churn_window = 0 as is_positive
    from scored_outcomes
    where
        scored_outcomes.churn_probability is not null
        and scored_outcomes.purchases_before > 0
),

classifier_ranks as (
    {#- Ascending rank of the score; tied scores share their average rank. -#}
    select
        classifier_samples.*,
        rank() over (
            partition by
                classifier_samples.scored_as_of_date,
                classifier_samples.model_family
            order by classifier_samples.score
        ) as first_rank,
        count(*) over (
            partition by
                classifier_samples.scored_as_of_date,
                classifier_samples.model_family,
                classifier_samples.score
        ) as tied_customers
    from classifier_samples
),

classifier_totals as (
    select
        classifier_ranks.scored_as_of_date,
        classifier_ranks.model_family,
        max(classifier_ranks.model_version) as model_version,
        max(classifier_ranks.window_days) as window_days,
        max(classifier_ranks.days_elapsed) as days_elapsed,
        count(*) as customers,
        {{ count_if('classifier_ranks.is_positive') }} as positive_customers,
        {{ count_if('not classifier_ranks.is_positive') }}
            as negative_customers,
        {{ sum_if('classifier_ranks.is_positive',
            'classifier_ranks.first_rank'
            ~ ' + (classifier_ranks.tied_customers - 1) / 2.0') }}
            as positive_rank_sum
    from classifier_ranks
    group by
        classifier_ranks.scored_as_of_date,
        classifier_ranks.model_family
),

classifier_metrics as (
    {#-
        Mann-Whitney: AUC = (rank sum of the positives - n+ (n+ + 1) / 2)
        / (n+ n-); null when one class is missing.
    -#}
    select
        classifier_totals.scored_as_of_date,
        classifier_totals.model_family,
        'auc' as metric_name,
        classifier_totals.model_version,
        (
            classifier_totals.positive_rank_sum
            - classifier_totals.positive_customers
            * (classifier_totals.positive_customers + 1) / 2.0
        )
        / nullif(
            cast(classifier_totals.positive_customers as double)
            * classifier_totals.negative_customers,
            0
        ) as metric_value,
        classifier_totals.customers,
        classifier_totals.positive_customers,
        classifier_totals.window_days,
        classifier_totals.days_elapsed
    from classifier_totals
),

clv_ranks as (
    {#-
        Highest predicted_clv first, ties by customer_id, so the top decile
        (the first ceil(n / 10) customers, as metrics.top_decile_capture)
        does not depend on the order rows are read in.
    -#}
    select
        scored_outcomes.*,
        row_number() over (
            partition by scored_outcomes.as_of_date
            order by
                scored_outcomes.predicted_clv desc,
                scored_outcomes.customer_id asc
        ) as value_rank,
        count(*) over (
            partition by scored_outcomes.as_of_date
        ) as scored_customers
    from scored_outcomes
    where scored_outcomes.predicted_clv is not null
),

clv_totals as (
    select
        clv_ranks.as_of_date as scored_as_of_date,
        max(clv_ranks.clv_model_version) as model_version,
        max(clv_ranks.clv_horizon_days) as window_days,
        max(clv_ranks.days_elapsed) as days_elapsed,
        count(*) as customers,
        {{ count_if('clv_ranks.revenue_in_clv_horizon > 0') }}
            as positive_customers,
        sum(clv_ranks.revenue_in_clv_horizon) as realized_revenue,
        {{ sum_if('10 * clv_ranks.value_rank <= clv_ranks.scored_customers + 9',
            'clv_ranks.revenue_in_clv_horizon') }} as top_decile_revenue,
        sum(clv_ranks.predicted_clv) as predicted_revenue
    from clv_ranks
    group by clv_ranks.as_of_date
),

clv_metrics as (
    {#-
        top_decile_capture: null unless revenue was realized.
        realized_to_predicted_revenue: the prediction pro-rated linearly to
        the elapsed share of the horizon, min(days_elapsed, window) / window.
    -#}
    select
        clv_totals.scored_as_of_date,
        'clv' as model_family,
        'top_decile_capture' as metric_name,
        clv_totals.model_version,
        case
            when clv_totals.realized_revenue > 0
                then
                    cast(clv_totals.top_decile_revenue as double)
                    / cast(clv_totals.realized_revenue as double)
        end as metric_value,
        clv_totals.customers,
        clv_totals.positive_customers,
        clv_totals.window_days,
        clv_totals.days_elapsed
    from clv_totals
    union all
    select
        clv_totals.scored_as_of_date,
        'clv' as model_family,
        'realized_to_predicted_revenue' as metric_name,
        clv_totals.model_version,
        cast(clv_totals.realized_revenue as double)
        / nullif(
            cast(clv_totals.predicted_revenue as double)
            * case
                when clv_totals.days_elapsed < clv_totals.window_days
                    then clv_totals.days_elapsed
                else clv_totals.window_days
            end
            / clv_totals.window_days,
            0
        ) as metric_value,
        clv_totals.customers,
        clv_totals.positive_customers,
        clv_totals.window_days,
        clv_totals.days_elapsed
    from clv_totals
),

metrics as (
    select * from classifier_metrics
    union all
    select * from clv_metrics
),

final as (
    select
        cast(metrics.model_family as {{ dbt.type_string() }})
            as model_family,
        cast(metrics.metric_name as {{ dbt.type_string() }}) as metric_name,
        cast(metrics.model_version as {{ dbt.type_string() }})
            as model_version,
        cast(metrics.metric_value as double) as metric_value,
        cast(metrics.customers as {{ dbt.type_int() }}) as customers,
        cast(metrics.positive_customers as {{ dbt.type_int() }})
            as positive_customers,
        cast(metrics.window_days as {{ dbt.type_int() }}) as window_days,
        cast(metrics.days_elapsed as {{ dbt.type_int() }}) as days_elapsed,
        cast(
            metrics.days_elapsed >= metrics.window_days
            as {{ dbt.type_boolean() }}
        ) as is_window_complete,
        metrics.scored_as_of_date,
        cast(
            case
                when metrics.days_elapsed >= metrics.window_days
                    then {{ dbt.dateadd(
                        'day', 'metrics.window_days',
                        'metrics.scored_as_of_date') }}
                else {{ as_of }}
            end as date
        ) as outcome_end_date,
        {{ as_of }} as as_of_date
    from metrics
)

select * from final
