-- Revenue per segment: where does the revenue come from, and where is it
-- going? One row per primary segment (as of as_of_date): net revenue over the
-- last 365 days, its share of all revenue, revenue per customer, average
-- predicted CLV over the next var clv_horizon_days and the predicted revenue
-- at risk of churn (sum of CLV x churn probability). Money in the reporting
-- currency (EUR), major units. Set summary_level to 'micro_segment' below for
-- the micro-segments.
with

summary as (
    select * from {{ ref('rpt_segment_summary') }}
),

segment_rows as (
    select *
    from summary
    where summary_level = 'segment'
),

totals as (
    select sum(segment_rows.revenue_last_365d) as revenue_last_365d
    from segment_rows
),

final as (
    select
        segment_rows.group_id as segment_id,
        segment_rows.segment_name,
        segment_rows.customers,
        segment_rows.revenue_last_365d,
        segment_rows.revenue_last_365d
        / nullif(totals.revenue_last_365d, 0) as revenue_share,
        segment_rows.revenue_per_customer,
        segment_rows.avg_predicted_clv,
        segment_rows.predicted_revenue_at_risk,
        segment_rows.as_of_date
    from segment_rows
    cross join totals
)

select * from final
order by revenue_last_365d desc
