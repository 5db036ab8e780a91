{#
    Passes when no two rows share the same values in `combination`: the
    primary-key test of tables keyed by several columns. Returns one row per
    duplicated combination, with how often it occurs.
#}
{% test unique_combination_of_columns(model, combination) %}
    {{ return(adapter.dispatch('test_unique_combination_of_columns', 'predictive_segments')(model, combination)) }}
{% endtest %}

{% macro default__test_unique_combination_of_columns(model, combination) %}
    {%- if combination is string or combination | length < 2 -%}
        {{ exceptions.raise_compiler_error(
            "unique_combination_of_columns on " ~ model ~ ": `combination` "
            ~ "must list at least two columns; for one column use the "
            ~ "built-in `unique` test.") }}
    {%- endif %}
    select
        {{ combination | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ combination | join(', ') }}
    having count(*) > 1
{% endmacro %}
