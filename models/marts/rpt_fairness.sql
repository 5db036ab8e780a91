{#-
    Fairness monitoring as of as_of_date: for each sensitive or demographic
    attribute of dim_customers (gender, age_band, country_code), each of its
    values and each audience (dim_audiences): customers, the audience's
    inclusion rate, mean scores, and the disparate-impact ratio (the group's
    inclusion rate / the highest inclusion rate among the attribute's known
    values) flagged when below var fairness_min_disparate_impact (0.8).
    Customers with the attribute unknown form group 'unknown': reported,
    never the reference and never flagged.
-#}
{%- set attributes = ['gender', 'age_band', 'country_code'] -%}
{%- set min_ratio = var('fairness_min_disparate_impact', 0.8) | float -%}
{%- if not (0 < min_ratio <= 1) -%}
    {{ exceptions.raise_compiler_error(
        "var fairness_min_disparate_impact (" ~ min_ratio ~ ") must be a "
        ~ "ratio above 0 and at most 1 (the four-fifths rule: 0.8).") }}
{%- endif -%}
with

customers as (
    select * from {{ ref('dim_customers') }}
),

scores as (
    select * from {{ ref('fct_customer_scores') }}
),

audiences as (
    select * from {{ ref('dim_audiences') }}
),

audience_members as (
    select * from {{ ref('fct_audience_members') }}
),

customer_groups as (
    {%- for attribute in attributes %}
    select
        '{{ attribute }}' as attribute_name,
        coalesce(customers.{{ attribute }}, 'unknown') as group_value,
        customers.{{ attribute }} is null as is_unknown,
        customers.customer_id
    from customers
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

group_scores as (
    select
        customer_groups.attribute_name,
        customer_groups.group_value,
        customer_groups.is_unknown,
        count(*) as customers,
        avg(scores.churn_probability) as mean_churn_probability,
        avg(scores.purchase_probability) as mean_purchase_probability,
        avg(scores.predicted_clv) as mean_predicted_clv
    from customer_groups
    inner join scores
        on customer_groups.customer_id = scores.customer_id
    group by
        customer_groups.attribute_name,
        customer_groups.group_value,
        customer_groups.is_unknown
),

group_members as (
    select
        customer_groups.attribute_name,
        customer_groups.group_value,
        audience_members.audience_id,
        count(*) as audience_members
    from customer_groups
    inner join audience_members
        on customer_groups.customer_id = audience_members.customer_id
    group by
        customer_groups.attribute_name,
        customer_groups.group_value,
        audience_members.audience_id
),

inclusion_rates as (
    select
        group_scores.attribute_name,
        group_scores.group_value,
        audiences.audience_id,
        group_scores.is_unknown,
        group_scores.customers,
        coalesce(group_members.audience_members, 0) as audience_members,
        coalesce(group_members.audience_members, 0) * 1.0
        / group_scores.customers as inclusion_rate,
        group_scores.mean_churn_probability,
        group_scores.mean_purchase_probability,
        group_scores.mean_predicted_clv
    from group_scores
    cross join audiences
    left join group_members
        on
            group_scores.attribute_name = group_members.attribute_name
            and group_scores.group_value = group_members.group_value
            and audiences.audience_id = group_members.audience_id
),

reference_rates as (
    select
        inclusion_rates.attribute_name,
        inclusion_rates.audience_id,
        max(inclusion_rates.inclusion_rate) as max_inclusion_rate
    from inclusion_rates
    where not inclusion_rates.is_unknown
    group by inclusion_rates.attribute_name, inclusion_rates.audience_id
),

with_ratios as (
    select
        inclusion_rates.*,
        reference_rates.max_inclusion_rate,
        case
            when not inclusion_rates.is_unknown
                then
                    inclusion_rates.inclusion_rate
                    / nullif(reference_rates.max_inclusion_rate, 0)
        end as disparate_impact_ratio
    from inclusion_rates
    left join reference_rates
        on
            inclusion_rates.attribute_name = reference_rates.attribute_name
            and inclusion_rates.audience_id = reference_rates.audience_id
),

final as (
    select
        cast(with_ratios.attribute_name as {{ dbt.type_string() }})
            as attribute_name,
        cast(with_ratios.group_value as {{ dbt.type_string() }})
            as group_value,
        cast(with_ratios.audience_id as {{ dbt.type_string() }})
            as audience_id,
        cast(with_ratios.customers as {{ dbt.type_bigint() }}) as customers,
        cast(with_ratios.audience_members as {{ dbt.type_bigint() }})
            as audience_members,
        cast(with_ratios.inclusion_rate as double) as inclusion_rate,
        cast(with_ratios.max_inclusion_rate as double)
            as max_inclusion_rate,
        cast(with_ratios.disparate_impact_ratio as double)
            as disparate_impact_ratio,
        cast({{ min_ratio }} as double) as min_disparate_impact,
        cast(with_ratios.mean_churn_probability as double)
            as mean_churn_probability,
        cast(with_ratios.mean_purchase_probability as double)
            as mean_purchase_probability,
        cast(with_ratios.mean_predicted_clv as {{ type_money() }})
            as mean_predicted_clv,
        cast(with_ratios.is_unknown as {{ dbt.type_boolean() }})
            as is_unknown_group,
        cast(
            coalesce(
                with_ratios.disparate_impact_ratio < {{ min_ratio }}, false
            ) as {{ dbt.type_boolean() }}
        ) as is_below_min_disparate_impact,
        {{ date_literal(as_of_date()) }} as as_of_date
    from with_ratios
)

select * from final
