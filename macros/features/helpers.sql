{#- Small expressions shared by the feature models. -#}

{% macro days_before(event_date, cutoff_date) -%}
    {{ dbt.datediff(event_date, cutoff_date, 'day') }}
{%- endmacro %}


{% macro count_if(condition) -%}
    sum(case when {{ condition }} then 1 else 0 end)
{%- endmacro %}


{% macro sum_if(condition, expression) -%}
    sum(case when {{ condition }} then {{ expression }} else 0 end)
{%- endmacro %}


{% macro safe_divide(numerator, denominator) -%}
    ({{ numerator }}) / nullif({{ denominator }}, 0)
{%- endmacro %}


{% macro log_ratio(recent, earlier) -%}
    {#-
        ln((recent + 1) / (earlier + 1)) of the non-negative parts: 0 when
        flat, > 0 when growing. Net amounts below 0 (refunds exceeding
        purchases) count as 0, so the ratio is always finite.
    -#}
    ln(
        (greatest(cast({{ recent }} as double), 0) + 1)
        / (greatest(cast({{ earlier }} as double), 0) + 1)
    )
{%- endmacro %}


{% macro stable_sum(expression) -%}
    {#-
        A sum of floating-point terms that does not depend on the order in
        which parallel threads add them: each term is rounded to 12 decimals
        and summed exactly, so equal data always give equal bits.
    -#}
    cast(sum(cast({{ expression }} as decimal(38, 12))) as double)
{%- endmacro %}


{% macro stable_stddev(expression) -%}
    {#-
        Sample standard deviation from exact sums (the expression is rounded to
        4 decimals), so that it does not depend on the order of parallel
        aggregation; null for fewer than two values.
    -#}
    {%- set value = 'cast(' ~ expression ~ ' as decimal(18, 4))' -%}
    sqrt(
        greatest(
            cast(
                count({{ value }}) * sum({{ value }} * {{ value }})
                - sum({{ value }}) * sum({{ value }})
                as double
            ),
            0
        )
        / nullif(count({{ value }}) * (count({{ value }}) - 1), 0)
    )
{%- endmacro %}


{% macro whole_number_var(name, unit, meaning) -%}
    {#-
        The var `name` as an integer of at least 1, or a compile error that
        names the var, the value found and what the var means (`unit`: what
        it counts, e.g. 'days'; `meaning`: a sentence on its use).
    -#}
    {%- set value = var(name) | string | trim -%}
    {%- if not modules.re.fullmatch('[0-9]+', value) or value | int < 1 -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be a whole number of " ~ unit
            ~ ", at least 1 (got '" ~ value ~ "'): " ~ meaning) }}
    {%- endif -%}
    {{ return(value | int) }}
{%- endmacro %}


{% macro number_var(name) -%}
    {#-
        The var `name` as a number written as SQL can read it (digits, an
        optional sign, decimals and exponent), or a compile error that names
        the var and the value found: a var never reaches SQL unchecked.
    -#}
    {%- set value = var(name) | string | trim -%}
    {%- if not modules.re.fullmatch(
        '[-+]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][-+]?[0-9]+)?', value) -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be a number (got '" ~ value ~ "'), e.g. "
            ~ "--vars '{" ~ name ~ ": 100000}'.") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}
