{#
    json_number(column, key): the number at top-level `key` of the JSON text
    in `column` (e.g. a registry's metrics), as a double; null when the key
    is absent or not a number. Dispatched: JSON functions differ by engine.
#}
{% macro json_number(column, key) -%}
    {{ return(adapter.dispatch('json_number', 'predictive_segments')(
        column, key)) }}
{%- endmacro %}

{% macro default__json_number(column, key) -%}
    try_cast(json_extract_string({{ column }}, '$.{{ key }}') as double)
{%- endmacro %}

{% macro spark__json_number(column, key) -%}
    try_cast(get_json_object({{ column }}, '$.{{ key }}') as double)
{%- endmacro %}


{#
    json_boolean(column, key): true when top-level `key` of the JSON text in
    `column` is the JSON literal true; false otherwise (absent, false, null).
#}
{% macro json_boolean(column, key) -%}
    {{ return(adapter.dispatch('json_boolean', 'predictive_segments')(
        column, key)) }}
{%- endmacro %}

{% macro default__json_boolean(column, key) -%}
    coalesce(json_extract_string({{ column }}, '$.{{ key }}') = 'true', false)
{%- endmacro %}

{% macro spark__json_boolean(column, key) -%}
    coalesce(get_json_object({{ column }}, '$.{{ key }}') = 'true', false)
{%- endmacro %}


{#
    json_text(column, key): the string at top-level `key` of the JSON text in
    `column`; null when the key is absent or null.
#}
{% macro json_text(column, key) -%}
    {{ return(adapter.dispatch('json_text', 'predictive_segments')(
        column, key)) }}
{%- endmacro %}

{% macro default__json_text(column, key) -%}
    json_extract_string({{ column }}, '$.{{ key }}')
{%- endmacro %}

{% macro spark__json_text(column, key) -%}
    get_json_object({{ column }}, '$.{{ key }}')
{%- endmacro %}
