-- Segment profiles: who is in each primary segment?
-- One row per segment (as of as_of_date): size and share, value and risk
-- (rpt_segment_summary), and the mix of value tiers, churn-risk bands and
-- lifecycle stages, average purchases and the share of registered customers.
-- Shares are 0 to 1. Compile with `dbt compile --select segment_profiles` and
-- run target/compiled/.../segment_profiles.sql in any DuckDB client.
with

summary as (
    select * from {{ ref('rpt_segment_summary') }}
),

segments as (
    select * from {{ ref('fct_customer_segments') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

segment_mix as (
    select
        coalesce(segments.segment_id, 'unassigned') as group_id,
        avg(
            case when segments.value_tier = 'high' then 1.0 else 0.0 end
        ) as high_value_share,
        avg(
            case when segments.churn_risk_band = 'high' then 1.0 else 0.0 end
        ) as high_churn_risk_share,
        avg(
            case when segments.lifecycle_stage = 'active' then 1.0 else 0.0 end
        ) as active_share,
        avg(
            case when segments.lifecycle_stage = 'lapsed' then 1.0 else 0.0 end
        ) as lapsed_share,
        avg(customers.order_count) as avg_order_count,
        avg(
            case when customers.has_customer_record then 1.0 else 0.0 end
        ) as registered_share
    from segments
    inner join customers
        on segments.customer_id = customers.customer_id
    group by coalesce(segments.segment_id, 'unassigned')
),

final as (
    select
        summary.group_id as segment_id,
        summary.segment_name,
        summary.customers,
        summary.customer_share,
        summary.revenue_per_customer,
        summary.avg_predicted_clv,
        summary.avg_churn_probability,
        summary.avg_purchase_probability,
        segment_mix.avg_order_count,
        segment_mix.high_value_share,
        segment_mix.high_churn_risk_share,
        segment_mix.active_share,
        segment_mix.lapsed_share,
        segment_mix.registered_share,
        summary.as_of_date
    from summary
    inner join segment_mix
        on summary.group_id = segment_mix.group_id
    where summary.summary_level = 'segment'
)

select * from final
order by customers desc
