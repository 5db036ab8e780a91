{#-
    One row per registry row of every train_* model (each model kind and
    training run): status, reason, the headline holdout metric of its kind
    read from the metrics JSON, lift quality with its band for the
    classifiers, and whether it is the model that serves.
    The serving row of churn, purchase_propensity and clv also carries the
    backtest of the latest earlier as_of_date of rpt_model_backtest: how the
    scores published then rank what happened since, measured with the
    family's headline metric (auc, top_decile_capture). The backtested
    scores come from the model that served then (backtest_model_version).
    Null on other rows, for other families, and while the score history
    holds no earlier as_of_date (a warehouse built at one date only).
-#}
{%- set registries = model_registries() -%}
with

{% for registry in registries %}
{{ registry }} as (
    select * from {{ ref(registry) }}
),

{% endfor %}
backtests as (
    select * from {{ ref('rpt_model_backtest') }}
),

registry_rows as (
    {{ registry_rows_union([
        'model_kind',
        'model_version',
        'status',
        'reason',
        'metrics',
        'run_id',
        'as_of_date',
        'trained_at',
    ]) }}
),

with_family as (
    select
        registry_rows.*,
        {{ model_family_of('registry_rows.model_kind') }} as model_family,
        {#- The kind that serves one score: the CLV kinds serve one CLV. #}
        case
            when
                registry_rows.model_kind in (
                    'clv_bgnbd', 'clv_gbm', 'clv_blend'
                )
                then 'clv'
            else registry_rows.model_kind
        end as serving_slot
    from registry_rows
),

with_metrics as (
    select
        with_family.*,
        case
            when with_family.model_family in ('churn', 'purchase_propensity')
                then 'auc'
            when with_family.model_family = 'clv' then 'top_decile_capture'
            when with_family.model_family = 'segments' then 'silhouette'
            when
                with_family.model_family = 'lookalike'
                and {{ json_number(
                    'with_family.metrics', 'future_value_lift') }} is not null
                then 'future_value_lift'
            when with_family.model_family = 'lookalike' then 'top_tier_lift'
            when with_family.model_family = 'uplift' then 'qini_coefficient'
        end as headline_metric,
        case
            when with_family.model_family in ('churn', 'purchase_propensity')
                then {{ json_number('with_family.metrics', 'auc') }}
            when with_family.model_family = 'clv'
                then {{ json_number(
                    'with_family.metrics', 'top_decile_capture') }}
            when with_family.model_family = 'segments'
                then {{ json_number('with_family.metrics', 'silhouette') }}
            when with_family.model_family = 'lookalike'
                then coalesce(
                    {{ json_number(
                        'with_family.metrics', 'future_value_lift') }},
                    {{ json_number('with_family.metrics', 'top_tier_lift') }}
                )
            when with_family.model_family = 'uplift'
                then {{ json_number(
                    'with_family.metrics', 'qini_coefficient') }}
        end as headline_metric_value,
        case
            when with_family.model_family = 'segments'
                then {{ json_number(
                    'with_family.metrics', 'bootstrap_stability') }}
        end as bootstrap_stability,
        {#- Lookalike: both of its gated metrics (the headline is the
            first when it was measured). #}
        case
            when with_family.model_family = 'lookalike'
                then {{ json_number(
                    'with_family.metrics', 'future_value_lift') }}
        end as future_value_lift,
        case
            when with_family.model_family = 'lookalike'
                then {{ json_number('with_family.metrics', 'top_tier_lift') }}
        end as top_tier_lift,
        case
            when with_family.model_family in ('churn', 'purchase_propensity')
                then {{ json_number('with_family.metrics', 'lift_quality') }}
        end as lift_quality,
        case
            when with_family.model_family = 'uplift'
                then {{ json_number('with_family.metrics', 'qini_normalized') }}
        end as qini_normalized,
        {#- The rung of the ladder (predictive_segments.ladder) and the
            backtest window it was validated on; families without a
            ladder leave both null. #}
        {{ json_text('with_family.metrics', 'method') }}
            as method, -- noqa: RF04
        {{ json_number('with_family.metrics', 'validated_horizon_days') }}
            as validated_horizon_days,
        {#- What values the customers without a purchase beside BG/NBD
            (predictive_segments.prospects), and its holdout AUC. #}
        {{ json_text('with_family.metrics', 'prospect_model') }}
            as prospect_method,
        {{ json_number('with_family.metrics', 'prospect_auc') }}
            as prospect_auc,
        {{ json_boolean('with_family.metrics', 'selected') }} as is_selected
    from with_family
),

serving_ranks as (
    {#-
        The serving model of a slot is its latest approved row (as
        registry.latest_approved); for CLV the selected kind of that run
        (clv.score_clv). Equal trained_at: the higher model_version wins.
    -#}
    select
        with_metrics.registry_model,
        with_metrics.model_kind,
        with_metrics.run_id,
        row_number() over (
            partition by with_metrics.serving_slot
            order by
                with_metrics.trained_at desc,
                case when with_metrics.is_selected then 0 else 1 end,
                with_metrics.model_version desc
        ) as serving_rank
    from with_metrics
    where with_metrics.status = 'approved'
),

latest_backtests as (
    {#- Per family and metric: the latest earlier as_of_date backtested. -#}
    select
        backtests.*,
        row_number() over (
            partition by backtests.model_family, backtests.metric_name
            order by backtests.scored_as_of_date desc
        ) as recency_rank
    from backtests
),

final as (
    select
        cast(with_metrics.model_kind as {{ dbt.type_string() }})
            as model_kind,
        cast(with_metrics.run_id as {{ dbt.type_string() }}) as run_id,
        cast(with_metrics.model_version as {{ dbt.type_string() }})
            as model_version,
        cast(with_metrics.registry_model as {{ dbt.type_string() }})
            as registry_model,
        cast(with_metrics.model_family as {{ dbt.type_string() }})
            as model_family,
        cast(with_metrics.status as {{ dbt.type_string() }}) as status,
        cast(with_metrics.reason as {{ dbt.type_string() }}) as reason,
        cast(with_metrics.headline_metric as {{ dbt.type_string() }})
            as headline_metric,
        cast(with_metrics.method as {{ dbt.type_string() }})
            as method, -- noqa: RF04
        cast(
            case
                when with_metrics.lift_quality >= 60 then 'Excellent'
                when with_metrics.lift_quality >= 40 then 'Good'
                when with_metrics.lift_quality >= 20 then 'Fair'
                when with_metrics.lift_quality is not null then 'Poor'
            end as {{ dbt.type_string() }}
        ) as lift_quality_band,
        latest_backtests.model_version as backtest_model_version,
        latest_backtests.metric_name as backtest_metric_name,
        cast(with_metrics.headline_metric_value as double)
            as headline_metric_value,
        cast(with_metrics.bootstrap_stability as double)
            as bootstrap_stability,
        cast(with_metrics.future_value_lift as double) as future_value_lift,
        cast(with_metrics.top_tier_lift as double) as top_tier_lift,
        cast(with_metrics.lift_quality as double) as lift_quality,
        cast(with_metrics.qini_normalized as double) as qini_normalized,
        cast(with_metrics.validated_horizon_days as {{ dbt.type_int() }})
            as validated_horizon_days,
        cast(with_metrics.prospect_method as {{ dbt.type_string() }})
            as prospect_method,
        cast(with_metrics.prospect_auc as double) as prospect_auc,
        latest_backtests.metric_value as backtest_metric_value,
        latest_backtests.customers as backtest_customers,
        latest_backtests.window_days as backtest_window_days,
        latest_backtests.days_elapsed as backtest_days_elapsed,
        cast(
            coalesce(serving_ranks.serving_rank = 1, false)
            as {{ dbt.type_boolean() }}
        ) as is_serving,
        latest_backtests.is_window_complete as backtest_is_window_complete,
        with_metrics.as_of_date,
        latest_backtests.scored_as_of_date as backtest_from_as_of_date,
        with_metrics.trained_at
    from with_metrics
    left join serving_ranks
        on
            with_metrics.registry_model = serving_ranks.registry_model
            and with_metrics.model_kind = serving_ranks.model_kind
            and with_metrics.run_id = serving_ranks.run_id
    left join latest_backtests
        on
            serving_ranks.serving_rank = 1
            and with_metrics.model_family = latest_backtests.model_family
            and with_metrics.headline_metric = latest_backtests.metric_name
            and latest_backtests.recency_rank = 1
)

select * from final
