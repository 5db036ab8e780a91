{#- Every raw row that staging refused, with its reason: none is lost. -#}
{%- set keys = raw_table_keys() %}

with

{% for table_name, key_columns in keys.items() %}
{%- set key_parts = [] -%}
{%- for column in key_columns -%}
{%- do key_parts.append("coalesce(" ~ column ~ ", '')") -%}
{%- if not loop.last -%}{%- do key_parts.append("'|'") -%}{%- endif -%}
{%- endfor %}
{{ table_name }}_quarantined as (
    select
        '{{ table_name }}' as source_table,
        {{ key_parts[0] if key_parts | length == 1 else dbt.concat(key_parts) }}
            as row_key,
        _quarantine_reason as reason,
        _raw_record as raw_record
    from {{ ref('base_shop__' ~ table_name) }}
    where _row_status = 'quarantined'
),

{% endfor %}
final as (
    {%- for table_name in keys %}
    select * from {{ table_name }}_quarantined
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select * from final
