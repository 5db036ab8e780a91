{#-
    Every published score of each customer of feat_customers in one typed
    row, with the rule-based labels the marts and audiences build on:
    value_tier, churn_risk_band and lifecycle_stage (thresholds are vars,
    see dbt_project.yml), the high-intent flag and its reason (an abandoned
    cart or a pricing page view in the last var high_intent_days days, from
    feat_customer_engagement at the same cutoff: signals, not model
    features), and the uplift for the main campaign. Per model family
    (segment, clv, churn, purchase, lookalike, uplift) a status, scored when
    its score table publishes scores, else the latest registry run's status
    (insufficient_data or rejected; never_trained without a run;
    insufficient_data when an approved model published nothing on this
    data), and a note: the registry's reason when the family is not scored,
    else the score table's note on the customer (why a score is null). The
    one source of fct_customer_scores, fct_customer_segments,
    score_micro_segments and the audience rules (macros/marts/audiences.sql).
-#}
{%- set main_campaign = var('main_campaign', none) -%}
{%- set high_share = var('value_tier_high_share') | float -%}
{%- set medium_share = var('value_tier_medium_share') | float -%}
{%- set high_risk = var('churn_risk_high_threshold') | float -%}
{%- set medium_risk = var('churn_risk_medium_threshold') | float -%}
{%- if not (0 < high_share and 0 <= medium_share
        and high_share + medium_share <= 1) -%}
    {{ exceptions.raise_compiler_error(
        "vars value_tier_high_share (" ~ high_share ~ ") and "
        ~ "value_tier_medium_share (" ~ medium_share ~ ") must be shares of "
        ~ "customers: high above 0, medium at least 0, together at most 1.") }}
{%- endif -%}
{%- if not (0 <= medium_risk <= high_risk <= 1) -%}
    {{ exceptions.raise_compiler_error(
        "vars churn_risk_medium_threshold (" ~ medium_risk ~ ") and "
        ~ "churn_risk_high_threshold (" ~ high_risk ~ ") must be "
        ~ "probabilities with medium <= high.") }}
{%- endif -%}
{%- set as_of_at = "cast('" ~ as_of_date() ~ "' as "
    ~ dbt.type_timestamp() ~ ")" -%}
{%- set families = scored_model_families() -%}
with

features as (
    select * from {{ ref('feat_customers') }}
),

engagement as (
    select * from {{ ref('feat_customer_engagement') }}
),

clv_scores as (
    select * from {{ ref('score_clv') }}
),

churn_scores as (
    select * from {{ ref('score_churn') }}
),

purchase_scores as (
    select * from {{ ref('score_purchase_propensity') }}
),

lookalike_scores as (
    select * from {{ ref('score_lookalike') }}
),

segment_scores as (
    select * from {{ ref('score_segments') }}
),

uplift_scores as (
    select * from {{ ref('score_uplift') }}
),

campaign_assignments as (
    select * from {{ ref('stg_shop__campaign_assignments') }}
),
{% for registry in model_registries() %}
{{ registry }} as (
    select * from {{ ref(registry) }}
),
{% endfor %}
scored_campaigns as (
    select distinct uplift_scores.campaign_id
    from uplift_scores
),

campaign_last_assignments as (
    select
        campaign_assignments.campaign_id,
        max(campaign_assignments.assigned_at) as last_assigned_at
    from campaign_assignments
    where campaign_assignments.assigned_at < {{ as_of_at }}
    group by campaign_assignments.campaign_id
),

ranked_campaigns as (
    select
        scored_campaigns.campaign_id,
        row_number() over (
            order by
                campaign_last_assignments.last_assigned_at desc nulls last,
                scored_campaigns.campaign_id desc
        ) as recency_rank
    from scored_campaigns
    left join campaign_last_assignments
        on scored_campaigns.campaign_id = campaign_last_assignments.campaign_id
),

main_campaign as (
    {%- if main_campaign %}
    select
        cast('{{ main_campaign | string | replace("'", "''") }}'
            as {{ dbt.type_string() }}) as campaign_id
    {%- else %}
    {#- An aggregate: one row, with a null campaign_id when none is scored. #}
    select max(ranked_campaigns.campaign_id) as campaign_id
    from ranked_campaigns
    where ranked_campaigns.recency_rank = 1
    {%- endif %}
),

main_campaign_uplift as (
    select
        uplift_scores.customer_id,
        uplift_scores.uplift_score,
        uplift_scores.uplift_group,
        uplift_scores.uplift_model_version
    from uplift_scores
    inner join main_campaign
        on uplift_scores.campaign_id = main_campaign.campaign_id
),

registry_rows as (
    {{ registry_rows_union([
        'model_kind',
        'model_version',
        'status',
        'reason',
        'run_id',
        'as_of_date',
        'trained_at',
    ]) }}
),

family_runs as (
    {#- Uplift: the main campaign's runs; every campaign's without one. -#}
    select
        registry_rows.*,
        {{ model_family_of('registry_rows.model_kind') }} as model_family
    from registry_rows
    cross join main_campaign
    where
        registry_rows.model_kind not like 'uplift:%'
        or main_campaign.campaign_id is null
        or registry_rows.model_kind
        = {{ dbt.concat(["'uplift:'", "main_campaign.campaign_id"]) }}
),

ranked_family_runs as (
    select
        family_runs.model_family,
        family_runs.run_id,
        row_number() over (
            partition by family_runs.model_family
            order by
                family_runs.trained_at desc,
                family_runs.model_version desc
        ) as recency_rank
    from family_runs
),

latest_run_rows as (
    select
        family_runs.*,
        count(*) over (partition by family_runs.model_family) as run_rows
    from family_runs
    inner join ranked_family_runs
        on
            family_runs.model_family = ranked_family_runs.model_family
            and family_runs.run_id = ranked_family_runs.run_id
            and ranked_family_runs.recency_rank = 1
),

latest_family_runs as (
    {#-
        One row per family: its latest run's status (approved when a model
        of it was, else rejected when one was, else insufficient_data) and
        reasons, each after its model_kind when the run wrote several rows
        (CLV: clv_bgnbd, clv_gbm and clv_blend).
    -#}
    select
        latest_run_rows.model_family,
        max(latest_run_rows.as_of_date) as run_as_of_date,
        case
            when
                max(case when latest_run_rows.status = 'approved' then 1 end)
                = 1
                then 'approved'
            when
                max(case when latest_run_rows.status = 'rejected' then 1 end)
                = 1
                then 'rejected'
            else 'insufficient_data'
        end as run_status,
        {{ dbt.listagg(
            "case when latest_run_rows.run_rows > 1 then "
            ~ dbt.concat([
                "latest_run_rows.model_kind", "': '",
                "latest_run_rows.reason"])
            ~ " else latest_run_rows.reason end",
            "'; '",
            "order by latest_run_rows.model_kind") }} as run_reason
    from latest_run_rows
    group by latest_run_rows.model_family
),

published_families as (
    {%- for family in families %}
    select
        '{{ family.family }}' as model_family,
        '{{ family.label }}' as family_label,
        '{{ family.registry }}' as registry_model,
        count({{ family.scores }}.{{ family.version }}) as published_rows
    from {{ family.scores }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

family_statuses as (
    {#-
        scored when the family's score table published a score; else why
        not, in the registry's words. An approved model that published
        nothing (segments: none reached the minimum size on this data) is
        insufficient_data, its note the score table's.
    -#}
    select
        published_families.model_family,
        case
            when published_families.published_rows > 0 then 'scored'
            when latest_family_runs.model_family is null then 'never_trained'
            when latest_family_runs.run_status = 'approved'
                then 'insufficient_data'
            else latest_family_runs.run_status
        end as model_status,
        case
            when published_families.published_rows > 0 then null
            when latest_family_runs.model_family is null
                then {{ dbt.concat([
                    "published_families.family_label",
                    "' not scored: no '",
                    "published_families.family_label",
                    "' model has been trained yet ('",
                    "published_families.registry_model",
                    "' has no rows)'"]) }}
            when latest_family_runs.run_status != 'approved'
                then {{ dbt.concat([
                    "published_families.family_label",
                    "' not scored: the latest run of '",
                    "published_families.registry_model",
                    "coalesce(" ~ dbt.concat([
                        "' (as of '",
                        "cast(latest_family_runs.run_as_of_date as "
                        ~ dbt.type_string() ~ ")",
                        "')'"]) ~ ", '')",
                    "' was '",
                    "latest_family_runs.run_status",
                    "': '",
                    "coalesce(latest_family_runs.run_reason, "
                    ~ "'no reason recorded')"]) }}
        end as family_note
    from published_families
    left join latest_family_runs
        on published_families.model_family = latest_family_runs.model_family
),

value_ranks as (
    {#-
        cume_dist over descending CLV: the share of scored customers worth at
        least as much. Tied customers share a tier (the lower one at a
        boundary), so a tier never splits equal values.
    #}
    select
        clv_scores.customer_id,
        cume_dist() over (order by clv_scores.predicted_clv desc)
            as value_rank_share
    from clv_scores
    where clv_scores.predicted_clv is not null
),

intent_signals as (
    select
        engagement.customer_id,
        engagement.cutoff_date,
        engagement.abandoned_carts_recent > 0 as has_abandoned_cart,
        engagement.pricing_views_recent > 0 as has_viewed_pricing
    from engagement
),

final as (
    select
        cast(features.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(segment_scores.segment_id as {{ dbt.type_string() }})
            as segment_id,
        cast(main_campaign.campaign_id as {{ dbt.type_string() }})
            as main_campaign_id,
        cast(segment_scores.segment_name as {{ dbt.type_string() }})
            as segment_name,
        cast(
            case
                when value_ranks.value_rank_share is null then 'unscored'
                when value_ranks.value_rank_share <= {{ high_share }}
                    then 'high'
                when
                    value_ranks.value_rank_share
                    <= {{ high_share + medium_share }}
                    then 'medium'
                else 'low'
            end as {{ dbt.type_string() }}
        ) as value_tier,
        cast(
            case
                when features.order_count = 0 then 'not_applicable'
                when churn_scores.churn_probability is null then 'unscored'
                when
                    churn_scores.churn_probability
                    >= {{ high_risk }}
                    then 'high'
                when
                    churn_scores.churn_probability
                    >= {{ medium_risk }}
                    then 'medium'
                else 'low'
            end as {{ dbt.type_string() }}
        ) as churn_risk_band,
        cast(
            case
                when features.order_count = 0 then 'prospect'
                when
                    features.first_purchase_days_ago
                    <= {{ var('lifecycle_new_days') | int }}
                    then 'new'
                when
                    features.recency_days
                    <= {{ var('churn_window_days') | int }}
                    then 'active'
                else 'lapsed'
            end as {{ dbt.type_string() }}
        ) as lifecycle_stage,
        cast(
            case
                when
                    intent_signals.has_abandoned_cart
                    and intent_signals.has_viewed_pricing
                    then 'both'
                when intent_signals.has_abandoned_cart then 'cart_abandonment'
                when intent_signals.has_viewed_pricing then 'pricing_views'
            end as {{ dbt.type_string() }}
        ) as high_intent_reason,
        cast(churn_scores.churn_reasons as {{ dbt.type_string() }})
            as churn_reasons,
        cast(clv_scores.clv_model_kind as {{ dbt.type_string() }})
            as clv_model_kind,
        cast(clv_scores.clv_method as {{ dbt.type_string() }}) as clv_method,
        cast(churn_scores.churn_method as {{ dbt.type_string() }})
            as churn_method,
        cast(purchase_scores.purchase_method as {{ dbt.type_string() }})
            as purchase_method,
        cast(clv_scores.clv_model_version as {{ dbt.type_string() }})
            as clv_model_version,
        cast(churn_scores.churn_model_version as {{ dbt.type_string() }})
            as churn_model_version,
        cast(
            purchase_scores.purchase_model_version as {{ dbt.type_string() }}
        ) as purchase_model_version,
        cast(
            lookalike_scores.lookalike_model_version
            as {{ dbt.type_string() }}
        ) as lookalike_model_version,
        cast(main_campaign_uplift.uplift_group as {{ dbt.type_string() }})
            as uplift_group,
        cast(
            main_campaign_uplift.uplift_model_version
            as {{ dbt.type_string() }}
        ) as uplift_model_version,
        cast(
            segment_scores.segment_model_version as {{ dbt.type_string() }}
        ) as segment_model_version,
        {%- for family in families %}
        cast({{ family.prefix }}_family.model_status as {{ dbt.type_string() }})
            as {{ family.prefix }}_status,
        cast(
            {%- if family.note %}
            coalesce(
                {{ family.prefix }}_family.family_note,
                {{ family.scores }}.{{ family.note }}
            )
            {%- else %}
            {{ family.prefix }}_family.family_note
            {%- endif %}
            as {{ dbt.type_string() }}
        ) as {{ family.prefix }}_note,
        {%- endfor %}
        cast(clv_scores.predicted_clv as {{ type_money() }}) as predicted_clv,
        cast(clv_scores.predicted_clv_p10 as {{ type_money() }})
            as predicted_clv_p10,
        cast(clv_scores.predicted_clv_p50 as {{ type_money() }})
            as predicted_clv_p50,
        cast(clv_scores.predicted_clv_p90 as {{ type_money() }})
            as predicted_clv_p90,
        cast(clv_scores.p_alive as double) as p_alive,
        cast(clv_scores.expected_next_order_date as date)
            as expected_next_order_date,
        cast(churn_scores.churn_probability as double) as churn_probability,
        cast(purchase_scores.purchase_probability as double)
            as purchase_probability,
        cast(lookalike_scores.lookalike_score as double) as lookalike_score,
        cast(lookalike_scores.lookalike_percentile as double)
            as lookalike_percentile,
        cast(lookalike_scores.lookalike_tier as {{ dbt.type_int() }})
            as lookalike_tier,
        cast(main_campaign_uplift.uplift_score as double) as uplift_score,
        cast(clv_scores.is_rising_value as {{ dbt.type_boolean() }})
            as is_rising_value,
        cast(lookalike_scores.is_lookalike_seed as {{ dbt.type_boolean() }})
            as is_lookalike_seed,
        coalesce(
            intent_signals.has_abandoned_cart
            or intent_signals.has_viewed_pricing,
            false
        ) as is_high_intent,
        features.cutoff_date as as_of_date
    from features
    cross join main_campaign
    left join clv_scores
        on features.customer_id = clv_scores.customer_id
    left join value_ranks
        on features.customer_id = value_ranks.customer_id
    left join churn_scores
        on features.customer_id = churn_scores.customer_id
    left join purchase_scores
        on features.customer_id = purchase_scores.customer_id
    left join lookalike_scores
        on features.customer_id = lookalike_scores.customer_id
    left join segment_scores
        on features.customer_id = segment_scores.customer_id
    left join main_campaign_uplift
        on features.customer_id = main_campaign_uplift.customer_id
    left join intent_signals
        on
            features.customer_id = intent_signals.customer_id
            and features.cutoff_date = intent_signals.cutoff_date
    {%- for family in families %}
    left join family_statuses as {{ family.prefix }}_family
        on {{ family.prefix }}_family.model_family = '{{ family.family }}'
    {%- endfor %}
)

select * from final
