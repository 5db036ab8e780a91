{#
    Point-in-time guard: passes when every value of column_name lies strictly
    before the value of cutoff_column in the same row (or on or before it with
    inclusive=true). Used on every feature table (the newest source row a
    feature read must precede the cutoff) and on every label table (a label
    window must end on or before as_of_date). Returns the offending rows.
#}
{% test no_data_on_or_after(model, column_name, cutoff_column, inclusive=false) %}
    {{ return(adapter.dispatch('test_no_data_on_or_after', 'predictive_segments')(model, column_name, cutoff_column, inclusive)) }}
{% endtest %}

{% macro default__test_no_data_on_or_after(model, column_name, cutoff_column, inclusive) %}
    {%- if not cutoff_column -%}
        {{ exceptions.raise_compiler_error(
            "no_data_on_or_after on " ~ model ~ "." ~ column_name
            ~ ": set `cutoff_column` to the column holding each row's "
            ~ "cutoff (e.g. cutoff_date).") }}
    {%- endif %}
    select
        *
    from {{ model }}
    where
        cast({{ column_name }} as {{ dbt.type_timestamp() }})
        {{ '>' if inclusive else '>=' }}
        cast({{ cutoff_column }} as {{ dbt.type_timestamp() }})
{% endmacro %}
