{% macro model_registries() -%}
    {#- The registry model (train_*) of every model family, in report order. -#}
    {{ return([
        'train_churn',
        'train_purchase_propensity',
        'train_clv',
        'train_segments',
        'train_lookalike',
        'train_uplift',
    ]) }}
{%- endmacro %}


{% macro registry_rows_union(columns) -%}
    {#-
        One select per registry of model_registries(), unioned: the
        registry's name as registry_model, then `columns`. Reads the CTEs
        named after each registry (the caller imports them).
    -#}
    {%- for registry in model_registries() %}
    select
        '{{ registry }}' as registry_model,
        {%- for column in columns %}
        {{ registry }}.{{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ registry }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}


{% macro model_family_of(model_kind) -%}
    {#-
        The model family of a registry row's model_kind: the CLV kinds
        (clv_bgnbd, clv_gbm, clv_blend) are clv, every campaign's uplift:<campaign_id> is uplift, the other kinds
        are their own family (churn, purchase_propensity, segments,
        lookalike).
    -#}
    case
        when {{ model_kind }} in ('clv_bgnbd', 'clv_gbm', 'clv_blend') then 'clv'
        when {{ model_kind }} like 'uplift:%' then 'uplift'
        else {{ model_kind }}
    end
{%- endmacro %}


{% macro scored_model_families() -%}
    {#-
        The families whose scores int_customer_scores_banded publishes, each
        with the prefix of its <prefix>_status and <prefix>_note columns,
        the words a note uses for it, its registry, the score CTE of
        int_customer_scores_banded and that score's model version and
        per-customer note columns (none: the score table has no note).
    -#}
    {{ return([
        {'family': 'segments', 'prefix': 'segment', 'label': 'segments',
         'registry': 'train_segments', 'scores': 'segment_scores',
         'version': 'segment_model_version', 'note': 'segment_note'},
        {'family': 'clv', 'prefix': 'clv', 'label': 'CLV',
         'registry': 'train_clv', 'scores': 'clv_scores',
         'version': 'clv_model_version', 'note': 'clv_score_note'},
        {'family': 'churn', 'prefix': 'churn', 'label': 'churn',
         'registry': 'train_churn', 'scores': 'churn_scores',
         'version': 'churn_model_version', 'note': 'churn_score_note'},
        {'family': 'purchase_propensity', 'prefix': 'purchase',
         'label': 'purchase propensity',
         'registry': 'train_purchase_propensity',
         'scores': 'purchase_scores',
         'version': 'purchase_model_version', 'note': 'purchase_score_note'},
        {'family': 'lookalike', 'prefix': 'lookalike', 'label': 'lookalike',
         'registry': 'train_lookalike', 'scores': 'lookalike_scores',
         'version': 'lookalike_model_version', 'note': 'lookalike_note'},
        {'family': 'uplift', 'prefix': 'uplift', 'label': 'uplift',
         'registry': 'train_uplift', 'scores': 'main_campaign_uplift',
         'version': 'uplift_model_version', 'note': none},
    ]) }}
{%- endmacro %}
