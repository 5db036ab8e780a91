{#-
    fct_customer_segments as a Parquet file, one row per customer as of
    as_of_date: <exports dir>/exp_customer_segments.parquet, for tools and
    builds that read files rather than the warehouse. customer_id is the
    salted hash when var export_hash_customer_ids is true.
-#}
{#- A template: rendered when the model runs (macros/marts/exports.sql). -#}
{{ config(location="{{ export_location('exp_customer_segments.parquet') }}") }}
with

customer_segments as (
    select * from {{ ref('fct_customer_segments') }}
),

export_ids as (
    select * from {{ ref('int_customer_ids_pseudonymized') }}
),

final as (
    select
        export_ids.export_customer_id as customer_id,
        customer_segments.segment_id,
        customer_segments.segment_name,
        customer_segments.segment_status,
        customer_segments.segment_note,
        customer_segments.value_tier,
        customer_segments.churn_risk_band,
        customer_segments.micro_segment,
        customer_segments.lifecycle_stage,
        customer_segments.high_intent_reason,
        customer_segments.is_high_intent,
        {%- for audience_id in builtin_audience_ids() %}
        customer_segments.is_in_{{ audience_id }},
        {%- endfor %}
        export_ids.is_customer_id_hashed,
        customer_segments.as_of_date
    from customer_segments
    inner join export_ids
        on customer_segments.customer_id = export_ids.customer_id
)

select * from final
