{#-
    One row per audience and member customer as of as_of_date. Audiences and
    their rules come from seeds/audience_rules.csv (macro audiences()); add
    rows there to add an audience, no SQL needed.
-#}
{%- set audience_list = audiences() -%}
with

customer_scores as (
    select * from {{ ref('int_customer_scores_banded') }}
),

members as (
    {%- if audience_list | length == 0 %}
    select
        cast(null as {{ dbt.type_string() }}) as audience_id,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as date) as as_of_date
    where 1 = 0
    {%- endif %}
    {%- for audience in audience_list %}
    select
        cast('{{ audience.audience_id }}' as {{ dbt.type_string() }})
            as audience_id,
        customer_scores.customer_id,
        customer_scores.as_of_date
    from customer_scores
    where {{ audience_condition(audience, 'customer_scores') }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

final as (
    select
        members.audience_id,
        members.customer_id,
        members.as_of_date
    from members
)

select * from final
