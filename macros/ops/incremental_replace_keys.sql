{#
    Incremental strategy `replace_keys` (config incremental_strategy:
    'replace_keys', unique_key: one column). The model returns the new
    version of every key it touches: all target rows with those keys are
    deleted and the model's rows inserted, in one transaction. Two kinds of
    marker rows, told apart by the column `_change`, are never inserted:
      'delete'  deletes the key's rows and inserts nothing (a key whose rows
                are all gone);
      'reload'  deletes every row first: the model returned the whole table
                (used when a raw file that was loaded before has changed or
                disappeared, see incremental_raw_load).
    Rows that are kept have `_change` null. dbt's delete+insert cannot
    express either marker.
#}

{% macro get_incremental_replace_keys_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set unique_key = arg_dict['unique_key'] -%}
    {%- if unique_key is not string -%}
        {{ exceptions.raise_compiler_error(
            "incremental_strategy 'replace_keys' needs unique_key to be one "
            ~ "column name, got " ~ unique_key) }}
    {%- endif -%}
    {%- set columns = [] -%}
    {%- for column in arg_dict['dest_columns'] -%}
        {%- do columns.append(adapter.quote(column.name)) -%}
    {%- endfor -%}
    delete from {{ target }}
    where
        exists (select 1 from {{ source }} where _change = 'reload')
        or {{ unique_key }} in (
            select {{ unique_key }} from {{ source }}
        );

    insert into {{ target }} ({{ columns | join(', ') }})
    select {{ columns | join(', ') }}
    from {{ source }}
    where _change is null
{%- endmacro %}
