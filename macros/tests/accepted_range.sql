{#
    Passes when every non-null value of column_name is a finite number within
    [min_value, max_value] (bounds optional; inclusive unless inclusive=false).
    NaN and infinities always fail. Returns the offending rows.
#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
    {{ return(adapter.dispatch('test_accepted_range', 'predictive_segments')(model, column_name, min_value, max_value, inclusive)) }}
{% endtest %}

{% macro default__test_accepted_range(model, column_name, min_value, max_value, inclusive) %}
    {%- for name, bound in [('min_value', min_value), ('max_value', max_value)] -%}
        {%- if bound is not none and bound is not number -%}
            {{ exceptions.raise_compiler_error(
                "accepted_range on " ~ model ~ "." ~ column_name ~ ": "
                ~ name ~ " must be a number (got " ~ bound ~ ").") }}
        {%- endif -%}
    {%- endfor -%}
    {%- set lower = min_value if min_value is not none else -1e300 -%}
    {%- set upper = max_value if max_value is not none else 1e300 -%}
    {%- set low_op = '>=' if inclusive else '>' -%}
    {%- set high_op = '<=' if inclusive else '<' -%}
    select *
    from {{ model }}
    where
        {{ column_name }} is not null
        and not (
            cast({{ column_name }} as double) {{ low_op }} {{ lower }}
            and cast({{ column_name }} as double) {{ high_op }} {{ upper }}
        )
{% endmacro %}
