{#-
    Which audiences and micro-segments to contact for the main campaign
    with a budget of var campaign_budget at var cost_per_contact per
    customer. Expected incremental revenue of a unit = sum over its members
    of max(uplift_score, 0) x expected order value, where uplift_score is
    the main campaign's change in conversion probability
    (fct_customer_scores) and the expected order value is the customer's
    avg_order_value (feat_customers), else the mean over customers with a
    purchase. A customer without an uplift score contributes 0. Units are
    ranked by incremental revenue per contact; within each unit kind the
    leading units whose cumulative cost fits the budget are funded (one plan
    per kind: micro-segments partition customers, audiences overlap).
-#}
{%- set budget = var('campaign_budget', 10000) | float -%}
{%- set cost_per_contact = var('cost_per_contact', 1.0) | float -%}
{%- if budget < 0 or cost_per_contact <= 0 -%}
    {{ exceptions.raise_compiler_error(
        "vars campaign_budget (" ~ budget ~ ") and cost_per_contact ("
        ~ cost_per_contact ~ ") must be amounts in the reporting currency: "
        ~ "a budget of at least 0 and a cost per contact above 0.") }}
{%- endif -%}
with

scores as (
    select * from {{ ref('fct_customer_scores') }}
),

segments as (
    select * from {{ ref('fct_customer_segments') }}
),

audiences as (
    select * from {{ ref('dim_audiences') }}
),

audience_members as (
    select * from {{ ref('fct_audience_members') }}
),

features as (
    select * from {{ ref('feat_customers') }}
),

mean_order_value as (
    select avg(features.avg_order_value) as avg_order_value
    from features
    where features.avg_order_value is not null
),

customer_values as (
    select
        scores.customer_id,
        scores.main_campaign_id,
        case
            when scores.uplift_score > 0
                then
                    scores.uplift_score
                    * coalesce(
                        features.avg_order_value,
                        mean_order_value.avg_order_value,
                        0
                    )
            else 0
        end as incremental_revenue
    from scores
    cross join mean_order_value
    left join features
        on scores.customer_id = features.customer_id
),

unit_members as (
    select
        'audience' as unit_kind,
        audience_members.audience_id as unit_id,
        audience_members.customer_id
    from audience_members
    union all
    select
        'micro_segment' as unit_kind,
        segments.micro_segment as unit_id,
        segments.customer_id
    from segments
    where segments.micro_segment is not null
),

units as (
    select
        'audience' as unit_kind,
        audiences.audience_id as unit_id
    from audiences
    union all
    select distinct
        'micro_segment' as unit_kind,
        segments.micro_segment as unit_id
    from segments
    where segments.micro_segment is not null
),

unit_values as (
    select
        units.unit_kind,
        units.unit_id,
        count(customer_values.customer_id) as customers,
        coalesce(sum(customer_values.incremental_revenue), 0)
            as incremental_revenue
    from units
    left join unit_members
        on
            units.unit_kind = unit_members.unit_kind
            and units.unit_id = unit_members.unit_id
    left join customer_values
        on unit_members.customer_id = customer_values.customer_id
    group by units.unit_kind, units.unit_id
),

unit_costs as (
    select
        unit_values.*,
        unit_values.customers * {{ cost_per_contact }} as contact_cost,
        unit_values.incremental_revenue
        / nullif(unit_values.customers, 0) as incremental_revenue_per_contact
    from unit_values
),

ranked as (
    select
        unit_costs.*,
        row_number() over (
            partition by unit_costs.unit_kind
            order by
                coalesce(unit_costs.incremental_revenue_per_contact, 0) desc,
                unit_costs.unit_id asc
        ) as budget_rank
    from unit_costs
),

cumulated as (
    select
        ranked.*,
        sum(ranked.contact_cost) over (
            partition by ranked.unit_kind
            order by ranked.budget_rank
            rows between unbounded preceding and current row
        ) as cumulative_cost
    from ranked
),

main_campaign as (
    select max(scores.main_campaign_id) as main_campaign_id
    from scores
),

final as (
    select
        cast(cumulated.unit_kind as {{ dbt.type_string() }}) as unit_kind,
        cast(cumulated.unit_id as {{ dbt.type_string() }}) as unit_id,
        cast(main_campaign.main_campaign_id as {{ dbt.type_string() }})
            as main_campaign_id,
        cast(cumulated.budget_rank as {{ dbt.type_int() }}) as budget_rank,
        cast(cumulated.customers as {{ dbt.type_bigint() }}) as customers,
        cast(cumulated.incremental_revenue as {{ type_money() }})
            as expected_incremental_revenue,
        cast(cumulated.contact_cost as {{ type_money() }}) as contact_cost,
        cast(
            cumulated.incremental_revenue_per_contact as {{ type_money() }}
        ) as incremental_revenue_per_contact,
        {#- From the revenue to the cent: DuckDB sums doubles in parallel in
            no fixed order, so the raw sum may differ in its last bits
            between equal builds. #}
        cast(
            cast(cumulated.incremental_revenue as {{ type_money() }})
            / nullif(cumulated.contact_cost, 0)
            as double
        ) as return_on_spend,
        cast(cumulated.cumulative_cost as {{ type_money() }})
            as cumulative_cost,
        cast({{ budget }} as {{ type_money() }}) as campaign_budget,
        cast({{ cost_per_contact }} as {{ type_money() }})
            as cost_per_contact,
        cast(
            cumulated.cumulative_cost <= {{ budget }}
            and cumulated.incremental_revenue > 0
            as {{ dbt.type_boolean() }}
        ) as is_funded,
        {{ date_literal(as_of_date()) }} as as_of_date
    from cumulated
    cross join main_campaign
)

select * from final
