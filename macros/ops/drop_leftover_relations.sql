{% macro drop_leftover_relations() -%}
    {#-
        on-run-end: drops the intermediate relations dbt leaves in the
        warehouse: dbt-duckdb's Python incremental models (the train_*
        registries) stage their new rows in a <model>__dbt_tmp<timestamp>
        table that it does not drop, and a killed build can leave
        __dbt_tmp / __dbt_backup relations of any model. Only one build may
        hold the warehouse at a time (profiles.yml, warehouse_lock), so none
        of them belongs to a running build.
    -#}
    {%- if not execute or render_only() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set leftovers = run_query(
        "select table_schema, table_name, table_type "
        ~ "from information_schema.tables "
        ~ "where table_catalog = '" ~ target.database ~ "' "
        ~ "and (contains(table_name, '__dbt_tmp') "
        ~ "or contains(table_name, '__dbt_backup'))") -%}
    {%- for row in leftovers.rows -%}
        {%- set relation = api.Relation.create(
            database=target.database, schema=row[0], identifier=row[1],
            type='view' if row[2] == 'VIEW' else 'table') -%}
        {%- do adapter.drop_relation(relation) -%}
    {%- endfor -%}
    {%- if leftovers.rows | length > 0 -%}
        {%- do log("dropped " ~ (leftovers.rows | length)
            ~ " leftover __dbt_tmp / __dbt_backup relations", info=True) -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
