{#-
    One row per customer as of as_of_date: the primary behavioral segment,
    value tier, churn-risk band, micro-segment, lifecycle stage, the
    event-triggered high-intent flag with its reason, and membership in the
    built-in audiences (builtin_audience_ids(); every audience, built-in or
    added to seeds/audience_rules.csv, is in fct_audience_members), and the
    segment model's status with a note saying why segment_id is null
    (int_customer_scores_banded). History lives in the snapshot.
-#}
{%- set audience_list = audiences() -%}
with

customer_scores as (
    select * from {{ ref('int_customer_scores_banded') }}
),

micro_segments as (
    select * from {{ ref('score_micro_segments') }}
),

audience_flags as (
    select
        {%- for audience in audience_list
            if audience.audience_id in builtin_audience_ids() %}
        {{ audience_condition(audience, 'customer_scores') }}
            as is_in_{{ audience.audience_id }},
        {%- endfor %}
        customer_scores.customer_id
    from customer_scores
),

final as (
    select
        customer_scores.customer_id,
        customer_scores.segment_id,
        customer_scores.segment_name,
        customer_scores.segment_status,
        customer_scores.segment_note,
        customer_scores.value_tier,
        customer_scores.churn_risk_band,
        cast(micro_segments.micro_segment as {{ dbt.type_string() }})
            as micro_segment,
        customer_scores.lifecycle_stage,
        customer_scores.high_intent_reason,
        customer_scores.is_high_intent,
        {%- for audience_id in builtin_audience_ids() %}
        audience_flags.is_in_{{ audience_id }},
        {%- endfor %}
        customer_scores.as_of_date
    from customer_scores
    left join micro_segments
        on customer_scores.customer_id = micro_segments.customer_id
    left join audience_flags
        on customer_scores.customer_id = audience_flags.customer_id
)

select * from final
