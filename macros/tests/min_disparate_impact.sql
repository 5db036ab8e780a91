{#
    Fairness (the four-fifths rule): passes when every non-null
    disparate-impact ratio in column_name (a group's selection rate / the
    highest group's) is at least `min_ratio`, e.g.
    var fairness_min_disparate_impact (0.8). A null ratio (unknown group,
    or no group selected at all) is not judged. Meant to run with severity
    warn: it flags audiences to review, it does not prove a bias. Returns
    the offending rows with the min_ratio applied.
#}
{% test min_disparate_impact(model, column_name, min_ratio) %}
    {{ return(adapter.dispatch('test_min_disparate_impact', 'predictive_segments')(model, column_name, min_ratio)) }}
{% endtest %}

{% macro default__test_min_disparate_impact(model, column_name, min_ratio) %}
    {%- set ratio = min_ratio | float(-1) -%}
    {%- if min_ratio is none or min_ratio is boolean
        or not (0 < ratio <= 1) -%}
        {{ exceptions.raise_compiler_error(
            "min_disparate_impact on " ~ model ~ "." ~ column_name
            ~ ": `min_ratio` must be a ratio above 0 and at most 1 (got "
            ~ min_ratio ~ "), e.g. 0.8 for the four-fifths rule.") }}
    {%- endif %}
    select
        *,
        {{ ratio }} as applied_min_ratio
    from {{ model }}
    where {{ column_name }} < {{ ratio }}
{% endmacro %}
