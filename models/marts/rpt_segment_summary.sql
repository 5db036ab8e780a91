{#-
    One row per primary segment (summary_level 'segment') and per micro-segment
    (summary_level
    'micro_segment') as of as_of_date: size, share of all customers,
    revenue over the last 365 days, average scores and the predicted revenue
    at risk (sum of predicted_clv x churn_probability). A customer without a
    segment (no segment model approved) counts in group 'unassigned'.
-#}
with

segments as (
    select * from {{ ref('fct_customer_segments') }}
),

scores as (
    select * from {{ ref('fct_customer_scores') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

customer_rows as (
    select
        segments.customer_id,
        segments.segment_id,
        segments.segment_name,
        segments.micro_segment,
        customers.revenue_last_365d,
        scores.predicted_clv,
        scores.churn_probability,
        scores.purchase_probability,
        scores.predicted_clv * scores.churn_probability
            as predicted_revenue_at_risk
    from segments
    inner join customers
        on segments.customer_id = customers.customer_id
    inner join scores
        on segments.customer_id = scores.customer_id
),

grouped_rows as (
    select
        'segment' as summary_level,
        coalesce(customer_rows.segment_id, 'unassigned') as group_id,
        customer_rows.segment_id,
        customer_rows.segment_name,
        cast(null as {{ dbt.type_string() }}) as micro_segment,
        customer_rows.customer_id,
        customer_rows.revenue_last_365d,
        customer_rows.predicted_clv,
        customer_rows.churn_probability,
        customer_rows.purchase_probability,
        customer_rows.predicted_revenue_at_risk
    from customer_rows
    union all
    select
        'micro_segment' as summary_level,
        coalesce(customer_rows.micro_segment, 'unassigned') as group_id,
        customer_rows.segment_id,
        customer_rows.segment_name,
        customer_rows.micro_segment,
        customer_rows.customer_id,
        customer_rows.revenue_last_365d,
        customer_rows.predicted_clv,
        customer_rows.churn_probability,
        customer_rows.purchase_probability,
        customer_rows.predicted_revenue_at_risk
    from customer_rows
),

total_customers as (
    select count(*) as customer_count
    from customer_rows
),

aggregated as (
    select
        grouped_rows.summary_level,
        grouped_rows.group_id,
        {#- A micro-segment lies in one segment; max() carries it. #}
        max(grouped_rows.segment_id) as segment_id,
        max(grouped_rows.segment_name) as segment_name,
        max(grouped_rows.micro_segment) as micro_segment,
        count(*) as customers,
        sum(grouped_rows.revenue_last_365d) as revenue_last_365d,
        avg(grouped_rows.predicted_clv) as avg_predicted_clv,
        coalesce(sum(grouped_rows.predicted_revenue_at_risk), 0)
            as predicted_revenue_at_risk,
        avg(grouped_rows.churn_probability) as avg_churn_probability,
        avg(grouped_rows.purchase_probability) as avg_purchase_probability
    from grouped_rows
    group by grouped_rows.summary_level, grouped_rows.group_id
),

final as (
    select
        cast(aggregated.summary_level as {{ dbt.type_string() }})
            as summary_level,
        cast(aggregated.group_id as {{ dbt.type_string() }}) as group_id,
        cast(aggregated.segment_id as {{ dbt.type_string() }}) as segment_id,
        cast(aggregated.segment_name as {{ dbt.type_string() }})
            as segment_name,
        cast(aggregated.micro_segment as {{ dbt.type_string() }})
            as micro_segment,
        cast(aggregated.customers as {{ dbt.type_bigint() }}) as customers,
        cast(
            aggregated.customers * 1.0 / total_customers.customer_count
            as double
        ) as customer_share,
        cast(aggregated.revenue_last_365d as {{ type_money() }})
            as revenue_last_365d,
        cast(
            aggregated.revenue_last_365d / aggregated.customers
            as {{ type_money() }}
        ) as revenue_per_customer,
        cast(aggregated.avg_predicted_clv as {{ type_money() }})
            as avg_predicted_clv,
        cast(aggregated.predicted_revenue_at_risk as {{ type_money() }})
            as predicted_revenue_at_risk,
        cast(aggregated.avg_churn_probability as double)
            as avg_churn_probability,
        cast(aggregated.avg_purchase_probability as double)
            as avg_purchase_probability,
        {{ date_literal(as_of_date()) }} as as_of_date
    from aggregated
    cross join total_customers
)

select * from final
