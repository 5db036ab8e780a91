{#-
    Segment membership history (SCD2): one row per customer and state, where
    a state is the primary segment, value tier, churn-risk band,
    micro-segment, lifecycle stage and built-in audience memberships of
    fct_customer_segments. A build at a new as_of_date closes the rows of
    customers whose state changed (dbt_valid_to = that as_of_date) and opens
    new ones (dbt_valid_from = that as_of_date); unchanged customers keep
    their row. The state of customer c as of date d is the row with
    dbt_valid_from <= d < coalesce(dbt_valid_to, infinity).

    Rebuilding the newest as_of_date replaces what it recorded (pre-hooks:
    reset_history_at). History only moves forward: a build as of a date
    before the newest one
    already recorded stops here (it would rewrite history); build it into
    another warehouse (SEGMENTS_DB) or leave the snapshot out
    (--exclude snap_customer_segments+).
-#}
{% snapshot snap_customer_segments %}

{{ config(
    unique_key='customer_id',
    strategy='check',
    check_cols=[
        'segment_id',
        'segment_name',
        'value_tier',
        'churn_risk_band',
        'micro_segment',
        'lifecycle_stage',
    ] + builtin_audience_columns(),
    updated_at='segmented_at',
    hard_deletes='ignore',
    tags=['history'],
    pre_hook=[
        "{{ reset_history_at(this, as_of_date(), 'delete') }}",
        "{{ reset_history_at(this, as_of_date(), 'reopen') }}",
    ],
) }}

{{ assert_history_moves_forward(this, as_of_date()) }}

with

segments as (
    select * from {{ ref('fct_customer_segments') }}
),

final as (
    select
        segments.customer_id,
        segments.segment_id,
        segments.segment_name,
        segments.value_tier,
        segments.churn_risk_band,
        segments.micro_segment,
        segments.lifecycle_stage,
        {%- for column_name in builtin_audience_columns() %}
        segments.{{ column_name }},
        {%- endfor %}
        cast(segments.as_of_date as timestamp) as segmented_at
    from segments
)

select * from final

{% endsnapshot %}
