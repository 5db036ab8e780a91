{% macro builtin_audience_columns() -%}
    {#- The is_in_<audience_id> columns of fct_customer_segments. -#}
    {%- set columns = [] -%}
    {%- for audience_id in builtin_audience_ids() -%}
        {%- do columns.append('is_in_' ~ audience_id) -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}


{% macro existing_history(relation) -%}
    {#-
        The history table `relation` as it exists in the warehouse, or none:
        before its first build, at parse time and when only rendering SQL.
    -#}
    {%- if not execute or render_only() -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(
        database=relation.database, schema=relation.schema,
        identifier=relation.identifier)) }}
{%- endmacro %}


{% macro assert_history_moves_forward(relation, as_of) -%}
    {#-
        Stops a build whose as_of_date is before the newest as_of_date already
        recorded in the history table `relation` (column dbt_valid_from): the
        history only moves forward. Nothing is written when it stops.
    -#}
    {%- set existing = existing_history(relation) -%}
    {%- if existing is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set result = run_query(
        'select cast(cast(max(dbt_valid_from) as date) as '
        ~ dbt.type_string() ~ ') from ' ~ existing) -%}
    {%- set newest = result.columns[0].values()[0] -%}
    {%- if newest is not none and newest > as_of -%}
        {{ exceptions.raise_compiler_error(
            existing.identifier ~ " already holds history up to as_of_date "
            ~ newest ~ "; a build as of " ~ as_of ~ " would rewrite it. "
            ~ "Build past dates into another warehouse (SEGMENTS_DB=...), "
            ~ "leave the history out (--exclude " ~ existing.identifier
            ~ "+), or start the history again (make simulate-weeks does, "
            ~ "with --replace-history).") }}
    {%- endif -%}
{%- endmacro %}


{% macro check_history_before_build() -%}
    {#-
        on-run-start: when a build selects the segment snapshot with an
        explicit as_of_date before the newest date of its history, stop
        before any model is written (the snapshot itself checks again for
        the default as_of_date, which is known only once orders are staged).
    -#}
    {%- if execute and var('as_of_date', none) and not render_only() -%}
        {%- set snapshot_id = 'snapshot.predictive_segments.snap_customer_segments' -%}
        {%- if snapshot_id in selected_resources -%}
            {%- set node = graph.nodes[snapshot_id] -%}
            {%- set relation = api.Relation.create(
                database=node.database, schema=node.schema,
                identifier=node.alias or node.name) -%}
            {{ assert_history_moves_forward(relation, as_of_date()) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{% macro reset_history_at(relation, as_of, statement) -%}
    {#-
        Snapshot pre-hooks that make rebuilding the newest as_of_date replace
        what that date recorded instead of adding to it: statement 'delete'
        removes the rows opened at as_of, 'reopen' reopens the rows closed at
        as_of. The snapshot then compares with the history before as_of, so
        a same-date rebuild (after a fix, say) records each customer once.
    -#}
    {%- set existing = existing_history(relation) -%}
    {%- if existing is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- if statement == 'delete' -%}
        delete from {{ existing }}
        where cast(dbt_valid_from as date) = {{ date_literal(as_of) }}
    {%- elif statement == 'reopen' -%}
        update {{ existing }} set dbt_valid_to = null
        where cast(dbt_valid_to as date) = {{ date_literal(as_of) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "reset_history_at: statement must be 'delete' or 'reopen', got "
            ~ statement) }}
    {%- endif -%}
{%- endmacro %}
