{#-
    One row per audience of seeds/audience_rules.csv (macro audiences()):
    its name, description, the rule applied (as SQL) and its member count
    in fct_audience_members as of as_of_date.
-#}
{%- set audience_list = audiences() -%}
with

members as (
    select * from {{ ref('fct_audience_members') }}
),

audience_definitions as (
    {%- if audience_list | length == 0 %}
    select
        cast(null as {{ dbt.type_string() }}) as audience_id,
        cast(null as {{ dbt.type_string() }}) as audience_name,
        cast(null as {{ dbt.type_string() }}) as description,
        cast(null as {{ dbt.type_string() }}) as rule_text
    where 1 = 0
    {%- endif %}
    {%- for audience in audience_list %}
    select
        '{{ audience.audience_id }}' as audience_id,
        '{{ audience.audience_name | replace("'", "''") }}' as audience_name,
        '{{ audience.description | replace("'", "''") }}' as description,
        '{{ audience.rule_text | replace("'", "''") }}' as rule_text
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

member_counts as (
    select
        members.audience_id,
        count(*) as member_count
    from members
    group by members.audience_id
),

final as (
    select
        cast(audience_definitions.audience_id as {{ dbt.type_string() }})
            as audience_id,
        cast(audience_definitions.audience_name as {{ dbt.type_string() }})
            as audience_name,
        cast(audience_definitions.description as {{ dbt.type_string() }})
            as description,
        cast(audience_definitions.rule_text as {{ dbt.type_string() }})
            as rule_text,
        cast(coalesce(member_counts.member_count, 0) as {{ dbt.type_bigint() }})
            as member_count,
        {{ date_literal(as_of_date()) }} as as_of_date
    from audience_definitions
    left join member_counts
        on audience_definitions.audience_id = member_counts.audience_id
)

select * from final
