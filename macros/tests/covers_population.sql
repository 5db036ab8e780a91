{#
    Coverage: passes when every member of a population has exactly one row
    in the model, with a non-null `assigned_column` when one is given (e.g.
    one primary segment per customer), and no row belongs to anyone outside
    the population. `member_column` is the member key in the model; the
    population is the distinct non-null `population_column` (default: the
    same name) of `population`, optionally filtered by the SQL predicate
    `population_where` (e.g. "lifecycle_stage != 'prospect'"). Returns one
    row per offending member with its rows, its rows with an assignment
    and a reason: missing (no row), duplicated (several rows), unassigned
    (one row, assigned_column null) or outside_population.

    `unassigned_when` (optional, with assigned_column; see
    macros/tests/unassigned_when.sql) names a status column and the
    statuses under which a null assignment is expected, e.g. segment_status
    insufficient_data when no segment model is approved: such a member is
    covered, and the test logs one line saying for how many members and
    why ("covers_population on fct_customer_segments: segment_id is null
    for all 50 customers because segment_status is insufficient_data:
    <segment_note>").
#}
{% test covers_population(model, member_column, population, population_column=none, assigned_column=none, population_where=none, unassigned_when=none) %}
    {{ return(adapter.dispatch('test_covers_population', 'predictive_segments')(model, member_column, population, population_column, assigned_column, population_where, unassigned_when)) }}
{% endtest %}

{% macro default__test_covers_population(model, member_column, population, population_column, assigned_column, population_where, unassigned_when=none) %}
    {%- set model_name = model.identifier if model.identifier is defined
        else model -%}
    {%- set test_name = "covers_population on " ~ model_name -%}
    {%- if not member_column or not population -%}
        {{ exceptions.raise_compiler_error(
            test_name ~ ": set `member_column` to "
            ~ "the member key (e.g. customer_id) and `population` to the "
            ~ "model listing every member that must have a row, e.g. "
            ~ "\"{{ ref('dim_customers') }}\".") }}
    {%- endif -%}
    {%- if unassigned_when is not none and not assigned_column -%}
        {{ exceptions.raise_compiler_error(
            test_name ~ ": `unassigned_when` excuses a null "
            ~ "`assigned_column`; set assigned_column (e.g. segment_id) or "
            ~ "leave unassigned_when out.") }}
    {%- endif -%}
    {%- set spec = unassigned_when_spec(test_name, unassigned_when) -%}
    {%- set noun = (member_column[:-3] ~ "s") if member_column
        and member_column.endswith("_id") else "members" -%}
    {{- log_unassigned_when(model, test_name, assigned_column, noun, spec) -}}
    {%- set population_key = population_column or member_column %}
    with

    population_members as (
        select distinct {{ population_key }} as member_id
        from {{ population }}
        where
            {{ population_key }} is not null
            {%- if population_where %}
            and ({{ population_where }})
            {%- endif %}
    ),

    model_members as (
        select
            {{ member_column }} as member_id,
            count(*) as row_count,
            {%- if assigned_column %}
            count({{ assigned_column }}) as assigned_row_count,
            {%- else %}
            count(*) as assigned_row_count,
            {%- endif %}
            {%- if spec is not none %}
            {#- Rows left unassigned by a family that is not scored. #}
            count(
                case
                    when
                        {{ assigned_column }} is null
                        and {{ unassigned_when_condition(spec) }}
                        then 1
                end
            ) as excused_row_count
            {%- else %}
            0 as excused_row_count
            {%- endif %}
        from {{ model }}
        group by {{ member_column }}
    ),

    checked_members as (
        select
            coalesce(population_members.member_id, model_members.member_id)
                as member_id,
            coalesce(model_members.row_count, 0) as row_count,
            coalesce(model_members.assigned_row_count, 0)
                as assigned_row_count,
            case
                when population_members.member_id is null
                    then 'outside_population'
                when model_members.member_id is null then 'missing'
                when model_members.row_count > 1 then 'duplicated'
                when
                    model_members.assigned_row_count = 0
                    and model_members.excused_row_count = 0
                    then 'unassigned'
            end as reason
        from population_members
        full outer join model_members
            on population_members.member_id = model_members.member_id
    )

    select
        checked_members.member_id as {{ member_column }},
        checked_members.row_count,
        checked_members.assigned_row_count,
        checked_members.reason
    from checked_members
    where checked_members.reason is not null
{% endmacro %}
