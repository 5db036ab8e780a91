{#
    Segment size: passes when every group (value) of column_name holds at
    least max(min_share x population, min_count) rows, where the population
    is the rows whose value is a group. A null is no group, and so is every
    value in `exclude_values` (e.g. unscored or unassigned): those rows are
    neither checked nor counted in the population. Returns one row per
    undersized group with its rows, the population and the minimum.

    `unassigned_when` (optional; see macros/tests/unassigned_when.sql)
    names a status column and the statuses under which column_name is null
    because the model family that assigns it published nothing: the test
    then logs how many rows that is and why ("min_group_size on
    fct_customer_segments.segment_id: segment_id is null for all 50 rows
    because segment_status is insufficient_data: <segment_note>"), so a
    pass with nothing to size says so.
#}
{% test min_group_size(model, column_name, min_share=0, min_count=1, exclude_values=[], unassigned_when=none) %}
    {{ return(adapter.dispatch('test_min_group_size', 'predictive_segments')(model, column_name, min_share, min_count, exclude_values, unassigned_when)) }}
{% endtest %}

{% macro default__test_min_group_size(model, column_name, min_share, min_count, exclude_values, unassigned_when=none) %}
    {%- set model_name = model.identifier if model.identifier is defined
        else model -%}
    {%- set test_name = "min_group_size on " ~ model_name ~ "." ~ column_name -%}
    {%- set share = min_share | float(-1) -%}
    {%- if min_share is none or min_share is boolean
        or not (0 <= share <= 1) -%}
        {{ exceptions.raise_compiler_error(
            test_name ~ ": `min_share` must be a share of rows from 0 to 1 "
            ~ "(got " ~ min_share ~ "), e.g. 0.01 for 1 %.") }}
    {%- endif -%}
    {%- set count = min_count | int(-1) -%}
    {%- if min_count is none or min_count is boolean or count < 0
        or count != min_count | float(-1) -%}
        {{ exceptions.raise_compiler_error(
            test_name ~ ": `min_count` must be a whole number of rows, 0 or "
            ~ "more (got " ~ min_count ~ "), e.g. 100.") }}
    {%- endif -%}
    {%- if exclude_values is string or exclude_values is mapping -%}
        {{ exceptions.raise_compiler_error(
            test_name ~ ": `exclude_values` must be a list of values (got "
            ~ exclude_values ~ "), e.g. [unscored].") }}
    {%- endif -%}
    {%- set spec = unassigned_when_spec(test_name, unassigned_when) -%}
    {{- log_unassigned_when(model, test_name, column_name, "rows", spec) }}
    with

    grouped_rows as (
        select cast({{ column_name }} as {{ dbt.type_string() }}) as group_value
        from {{ model }}
        where
            {{ column_name }} is not null
            {%- for value in exclude_values or [] %}
            and cast({{ column_name }} as {{ dbt.type_string() }})
            != '{{ value | string | replace("'", "''") }}'
            {%- endfor %}
    ),

    population as (
        select count(*) as population_rows from grouped_rows
    ),

    group_sizes as (
        select
            grouped_rows.group_value,
            count(*) as group_rows
        from grouped_rows
        group by grouped_rows.group_value
    ),

    minimums as (
        select
            group_sizes.group_value,
            group_sizes.group_rows,
            population.population_rows,
            case
                when
                    {{ share }} * population.population_rows > {{ count }}
                    then {{ share }} * population.population_rows
                else {{ count }}
            end as min_group_rows
        from group_sizes
        cross join population
    )

    select * from minimums
    where group_rows < min_group_rows
{% endmacro %}
