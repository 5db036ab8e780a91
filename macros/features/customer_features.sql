{#
    The one definition of the wide customer feature row, used for scoring
    (feat_customers, at as_of_date) and for training (feat_customers_training,
    at the training cutoffs), so the two can never drift apart.

    customer_feature_topics() lists each topic model and its feature columns:
    counts and amounts are zero when the customer has no rows in the topic;
    rates, averages and recencies stay null (undefined, not zero).
#}

{% macro customer_feature_topics() -%}
    {{ return([
        {'model': 'feat_customer_orders',
         'zero': ['order_count', 'purchase_day_count', 'refund_count',
                  'cancelled_order_count', 'zero_amount_order_count',
                  'monetary_gross', 'monetary_net', 'refund_amount',
                  'orders_last_30d', 'orders_last_90d', 'orders_prev_90d',
                  'orders_last_365d', 'revenue_last_30d', 'revenue_last_90d',
                  'revenue_prev_90d', 'revenue_last_365d', 'spend_trend_90d',
                  'order_trend_90d'],
         'null': ['refund_rate', 'avg_order_value', 'max_order_value',
                  'stddev_order_value', 'recency_days',
                  'first_purchase_days_ago', 'avg_order_value_last_90d',
                  'aov_trend', 'mean_interpurchase_days',
                  'stddev_interpurchase_days', 'last_interpurchase_days',
                  'cadence_trend', 'recency_to_cadence_ratio',
                  'orders_per_month', 'app_order_share', 'store_order_share',
                  'marketplace_order_share']},
        {'model': 'feat_customer_products',
         'zero': ['itemized_order_count', 'distinct_categories',
                  'new_categories_last_90d'],
         'null': ['units_per_order', 'category_entropy',
                  'category_switch_rate', 'premium_spend_share',
                  'budget_spend_share', 'premium_spend_share_last_90d',
                  'premium_share_trend', 'avg_margin_rate']},
        {'model': 'feat_customer_engagement',
         'zero': ['session_count', 'sessions_last_30d', 'sessions_prev_60d',
                  'sessions_last_90d', 'engagement_velocity',
                  'product_views_last_30d', 'pricing_views_last_30d',
                  'docs_views_last_30d', 'searches_last_30d',
                  'add_to_carts_last_30d', 'abandoned_carts_last_30d'],
         'null': ['avg_events_per_session', 'avg_product_views_per_session',
                  'avg_categories_per_session', 'cart_abandonment_rate',
                  'session_conversion_rate', 'days_since_last_session',
                  'mobile_session_share', 'tablet_session_share']},
        {'model': 'feat_customer_email',
         'zero': ['emails_delivered', 'emails_delivered_last_90d'],
         'null': ['email_open_rate_90d', 'email_click_rate_90d',
                  'email_open_rate_trend', 'days_since_last_email_open'],
         'false': ['is_unsubscribed']},
        {'model': 'feat_customer_support',
         'zero': ['ticket_count', 'tickets_last_90d', 'open_ticket_count',
                  'low_csat_ticket_count'],
         'null': ['avg_csat_score', 'days_since_last_ticket']},
    ]) }}
{%- endmacro %}


{% macro customer_feature_names() -%}
    {#- Every model feature, in a fixed order (sensitive attributes excluded). -#}
    {%- set names = ['tenure_days', 'days_since_signup'] -%}
    {%- for topic in customer_feature_topics() -%}
        {%- for kind in ['zero', 'null', 'false'] -%}
            {%- do names.extend(topic.get(kind, [])) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}


{% macro customer_features_at(dates) -%}
    {%- set topics = customer_feature_topics() -%}
    with

    customers as (
        select * from {{ ref('int_customers_unified') }}
        where not is_test_account
    ),

    cutoffs as (
        {{ cutoffs_relation(dates) }}
    ),

    {#-
        The topic tables share their key (customer_id, cutoff_date): one
        union of their rows grouped by the key (any_value skips the nulls
        of the other topics' columns) instead of a join per topic. DuckDB
        held the build sides of five joins at once and ran out of memory
        at 1,000,000 customers; the aggregate spills.
    -#}
    topic_rows as (
        {%- for topic in topics %}
        select
            customer_id,
            cutoff_date,
            {%- for kind in ['zero', 'null', 'false'] %}
            {%- for column in topic.get(kind, []) %}
            {{ column }},
            {%- endfor %}
            {%- endfor %}
            max_source_at
                as {{ topic.model | replace('feat_customer_', '') }}_max_source_at
        from {{ ref(topic.model) }}
        where cutoff_date in (select cutoffs.cutoff_date from cutoffs)
        {%- if not loop.last %}
        union all by name
        {%- endif %}
        {%- endfor %}
    ),

    topic_features as (
        select
            customer_id,
            cutoff_date,
            {%- for topic in topics %}
            {%- for kind in ['zero', 'null', 'false'] %}
            {%- for column in topic.get(kind, []) %}
            any_value({{ column }}) as {{ column }},
            {%- endfor %}
            {%- endfor %}
            any_value({{ topic.model | replace('feat_customer_', '') }}_max_source_at)
                as {{ topic.model | replace('feat_customer_', '') }}_max_source_at
            {%- if not loop.last %},{% endif %}
            {%- endfor %}
        from topic_rows
        group by customer_id, cutoff_date
    ),

    spine as (
        select
            customers.customer_id,
            customers.first_seen_at,
            {#-
                A customer may order as a guest before signing up: at a
                cutoff between the two, the registration is not known yet.
            #}
            case
                when customers.signed_up_at < cutoffs.cutoff_at
                    then customers.signed_up_at
            end as known_signed_up_at,
            case
                when
                    customers.signed_up_at < cutoffs.cutoff_at
                    or (
                        customers.signed_up_at is null
                        and customers.has_customer_record
                    )
                    then customers.acquisition_channel
            end as known_acquisition_channel,
            customers.has_customer_record
            and coalesce(customers.signed_up_at < cutoffs.cutoff_at, true)
                as has_customer_record,
            cutoffs.cutoff_date,
            cutoffs.cutoff_at
        from customers
        inner join cutoffs
            on
                customers.first_seen_at < cutoffs.cutoff_at
                or customers.first_seen_at is null
        where {{ in_feature_population('customers.customer_id') }}
    ),

    final as (
        select
            spine.customer_id,
            spine.cutoff_date,
            coalesce(spine.known_acquisition_channel, 'unknown')
                as acquisition_channel,
            spine.has_customer_record,
            {{ days_before('cast(spine.first_seen_at as date)',
                'spine.cutoff_date') }} as tenure_days,
            {{ days_before('cast(spine.known_signed_up_at as date)',
                'spine.cutoff_date') }} as days_since_signup,
            {%- for topic in topics %}
            {%- for column in topic.get('zero', []) %}
            coalesce(topic_features.{{ column }}, 0) as {{ column }},
            {%- endfor %}
            {%- for column in topic.get('null', []) %}
            topic_features.{{ column }},
            {%- endfor %}
            {%- for column in topic.get('false', []) %}
            coalesce(topic_features.{{ column }}, false) as {{ column }},
            {%- endfor %}
            {%- endfor %}
            {%- for topic in topics %}
            topic_features.{{ topic.model | replace('feat_customer_', '') }}_max_source_at,
            {%- endfor %}
            spine.first_seen_at
        from spine
        left join topic_features
            on
                spine.customer_id = topic_features.customer_id
                and spine.cutoff_date = topic_features.cutoff_date
    )

    select * from final
{%- endmacro %}
