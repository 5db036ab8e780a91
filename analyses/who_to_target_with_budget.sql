-- Who to target with a given budget: the customers to contact for the main
-- campaign, one row per customer, with the micro-segment that earns the
-- contact. The plan is rpt_budget_allocation's greedy plan over
-- micro-segments (they do not overlap, so no one is paid for twice),
-- recomputed here for the vars at compile time: change the budget without a
-- rebuild, e.g.
--   dbt compile --select who_to_target_with_budget \
--     --vars '{campaign_budget: 5000, cost_per_contact: 0.5}'
-- Funded micro-segments: by rank (incremental revenue per contact), those
-- whose cumulative cost fits var campaign_budget and whose expected
-- incremental revenue is positive. Money in the reporting currency (EUR).
{%- set budget = var('campaign_budget', 10000) | float -%}
{%- set cost_per_contact = var('cost_per_contact', 1.0) | float -%}
{%- if budget < 0 or cost_per_contact <= 0 -%}
    {{ exceptions.raise_compiler_error(
        "vars campaign_budget (" ~ budget ~ ") and cost_per_contact ("
        ~ cost_per_contact ~ ") must be amounts in the reporting currency: "
        ~ "a budget of at least 0 and a cost per contact above 0.") }}
{%- endif %}
with

allocation as (
    select * from {{ ref('rpt_budget_allocation') }}
),

segments as (
    select * from {{ ref('fct_customer_segments') }}
),

scores as (
    select * from {{ ref('fct_customer_scores') }}
),

micro_segment_costs as (
    select
        allocation.unit_id as micro_segment,
        allocation.budget_rank,
        allocation.customers,
        allocation.expected_incremental_revenue,
        allocation.incremental_revenue_per_contact,
        sum(allocation.customers * {{ cost_per_contact }}) over (
            order by allocation.budget_rank
            rows between unbounded preceding and current row
        ) as cumulative_cost
    from allocation
    where allocation.unit_kind = 'micro_segment'
),

funded_micro_segments as (
    select *
    from micro_segment_costs
    where
        cumulative_cost <= {{ budget }}
        and expected_incremental_revenue > 0
),

final as (
    select
        segments.customer_id,
        scores.main_campaign_id,
        segments.micro_segment,
        segments.segment_name,
        funded_micro_segments.budget_rank,
        scores.uplift_score,
        scores.uplift_group,
        funded_micro_segments.incremental_revenue_per_contact,
        cast({{ cost_per_contact }} as double) as cost_per_contact,
        funded_micro_segments.cumulative_cost,
        cast({{ budget }} as double) as campaign_budget,
        segments.as_of_date
    from segments
    inner join funded_micro_segments
        on segments.micro_segment = funded_micro_segments.micro_segment
    inner join scores
        on segments.customer_id = scores.customer_id
)

select * from final
order by budget_rank asc, uplift_score desc, customer_id asc
