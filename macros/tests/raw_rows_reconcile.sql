{#
    No silent data loss: for one raw table, passes when
        raw rows = staged rows + quarantined rows + collapsed duplicates.
    `model` is the staging model of the table; quarantined rows are counted in
    `quarantine_model` (source_table = table_name) and collapsed exact
    duplicates in `base_model`. Returns one row with the four counts when the
    equation does not hold.
#}
{% test raw_rows_reconcile(model, table_name, base_model, quarantine_model) %}
    {{ return(adapter.dispatch('test_raw_rows_reconcile', 'predictive_segments')(model, table_name, base_model, quarantine_model)) }}
{% endtest %}

{% macro default__test_raw_rows_reconcile(model, table_name, base_model, quarantine_model) %}
    {%- if table_name not in raw_table_keys() -%}
        {{ exceptions.raise_compiler_error(
            "raw_rows_reconcile on " ~ model ~ ": table_name '" ~ table_name
            ~ "' is not a raw table; use one of "
            ~ (raw_table_keys().keys() | list | join(', ')) ~ ".") }}
    {%- endif %}
    with

    raw_rows as (
        select count(*) as row_count from ({{ raw_table(table_name) }}) as raw
    ),

    staged_rows as (
        select count(*) as row_count from {{ model }}
    ),

    quarantined_rows as (
        select count(*) as row_count
        from {{ quarantine_model }}
        where source_table = '{{ table_name }}'
    ),

    collapsed_rows as (
        select count(*) as row_count
        from {{ base_model }}
        where _row_status = 'collapsed_duplicate'
    ),

    counts as (
        select
            raw_rows.row_count as raw_row_count,
            staged_rows.row_count as staged_row_count,
            quarantined_rows.row_count as quarantined_row_count,
            collapsed_rows.row_count as collapsed_row_count
        from raw_rows
        cross join staged_rows
        cross join quarantined_rows
        cross join collapsed_rows
    )

    select * from counts
    where
        raw_row_count
        != staged_row_count + quarantined_row_count + collapsed_row_count
{% endmacro %}
