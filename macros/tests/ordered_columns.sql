{#
    Passes when, in every row, the values of `columns` never decrease from
    left to right (each <= the next; strictly increasing with strict=true),
    e.g. quantiles: [p10, p50, p90]. Nulls are skipped: every pair of
    non-null values must be in order (so [1, null, 0] fails). Returns the
    offending rows.
#}
{% test ordered_columns(model, columns, strict=false) %}
    {{ return(adapter.dispatch('test_ordered_columns', 'predictive_segments')(model, columns, strict)) }}
{% endtest %}

{% macro default__test_ordered_columns(model, columns, strict) %}
    {%- if columns is string or columns | length < 2 -%}
        {{ exceptions.raise_compiler_error(
            "ordered_columns on " ~ model ~ ": `columns` must list at least "
            ~ "two columns, in the order their values must follow (e.g. "
            ~ "[predicted_clv_p10, predicted_clv_p50, predicted_clv_p90]).") }}
    {%- endif -%}
    {%- set op = '>=' if strict else '>' -%}
    select *
    from {{ model }}
    where
        {%- for lower in columns[:-1] %}
        {%- set outer = loop %}
        {%- for upper in columns[loop.index:] %}
        {{ 'or ' if not (outer.first and loop.first) }}coalesce({{ lower }} {{ op }} {{ upper }}, false)
        {%- endfor %}
        {%- endfor %}
{% endmacro %}
