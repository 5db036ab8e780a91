{#
    Incremental staging of the large raw tables (events, email_events): each
    build reads only the raw files it has not read before, and gives the same
    rows as a full rebuild (tests/integration/test_incremental_refresh.py).

    A base_ model that uses it is materialized 'incremental' with the
    strategy 'replace_keys' (macros/ops/incremental_replace_keys.sql) on the
    column _row_key (its key, '' for a missing key: a cleaned id is never
    ''). Every row records the raw file it came from and that file's version
    (_source_file, _source_version), so the next build knows which files are
    new.

    incremental_raw_load(table_name, key_column, recheck_keys) returns
      source  the raw rows to classify (select, raw_table's columns):
              full build: every file;
              incremental build: the rows of new files, plus the rows
              already loaded whose key appears in them or in recheck_keys
              (read again from their files, so that duplicates and id
              conflicts between old and new rows are settled exactly as a
              full build settles them);
      reload  true when a file read by an earlier build has changed or gone:
              then source holds every file and the model marks its output
              as a 'reload' (every old row is replaced).
    recheck_keys: a select of _row_key from {{ this }}: rows whose
    classification may change without a new raw row (a customer who became a
    test account, a timestamp that was in the future); see
    raw_recheck_keys().

    What is not detected (run `dbt build --full-refresh` after changing it):
    vars and seeds that classify rows (min_valid_date, bot_user_agent_pattern,
    accepted_event_types) and the DuckDB version.
#}

{% macro incremental_raw_load(table_name, key_column, recheck_keys) -%}
    {%- if not is_incremental() -%}
        {{ return({'source': raw_table(table_name), 'reload': false}) }}
    {%- endif -%}
    {%- set current = raw_table_files(table_name) -%}
    {%- if not execute or render_only() -%}
        {{ return({'source': raw_table(table_name), 'reload': false}) }}
    {%- endif -%}
    {%- set existing_columns = [] -%}
    {%- for column in adapter.get_columns_in_relation(this) -%}
        {%- do existing_columns.append(column.name | lower) -%}
    {%- endfor -%}
    {%- if '_source_file' not in existing_columns -%}
        {{ exceptions.raise_compiler_error(
            this.identifier ~ " was built by an earlier version of the "
            ~ "project, before it was loaded incrementally. Rebuild it once: "
            ~ "dbt build --full-refresh --select " ~ this.identifier ~ "+") }}
    {%- endif -%}
    {%- set loaded_rows = run_query(
        "select _source_file, min(_source_version), max(_source_version) "
        ~ "from " ~ this ~ " where _source_file is not null group by all") -%}
    {%- set loaded = {} -%}
    {%- for row in loaded_rows.rows -%}
        {%- do loaded.update({row[0]: [row[1], row[2]]}) -%}
    {%- endfor -%}
    {%- set current_versions = {} -%}
    {%- for file in current -%}
        {%- do current_versions.update({file.path: file.version}) -%}
    {%- endfor -%}

    {%- set changed = [] -%}
    {%- for path, versions in loaded.items() -%}
        {%- if versions[0] != versions[1]
            or current_versions.get(path) != versions[0] -%}
            {%- do changed.append(path) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if changed | length > 0 -%}
        {%- do log(
            table_name ~ ": " ~ (changed | length) ~ " raw file(s) read by an "
            ~ "earlier build changed or disappeared (" ~ (changed[:3] | join(', '))
            ~ (", ..." if changed | length > 3 else "") ~ "): reloading "
            ~ table_name ~ " completely.", info=true) -%}
        {{ return({'source': raw_table(table_name), 'reload': true}) }}
    {%- endif -%}

    {%- set new_files = [] -%}
    {%- for file in current -%}
        {%- if file.path not in loaded -%}{%- do new_files.append(file) -%}{%- endif -%}
    {%- endfor -%}
    {%- set new_rows = raw_table(table_name, new_files) -%}
    {%- set affected_keys -%}
        select {{ raw_row_key('new_raw.' ~ key_column) }} as _row_key
        from ({{ new_rows }}) as new_raw
        union
        select _row_key from ({{ recheck_keys }}) as rechecked
    {%- endset -%}
    {%- set files_to_reread = [] -%}
    {%- set found = run_query(
        "select distinct _source_file from " ~ this ~ " where _row_key in ("
        ~ affected_keys ~ ") order by 1") -%}
    {%- for path in found.columns[0].values() -%}
        {%- for file in current -%}
            {%- if file.path == path -%}{%- do files_to_reread.append(file) -%}{%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- do log(
        table_name ~ ": incremental load of " ~ (new_files | length)
        ~ " new raw file(s); " ~ (files_to_reread | length)
        ~ " loaded file(s) read again for keys seen again or to recheck.",
        info=true) -%}
    {%- set source_sql -%}
        select * from ({{ new_rows }}) as new_raw
        {%- if files_to_reread | length > 0 %}
        union all
        select reread.*
        from ({{ raw_table(table_name, files_to_reread) }}) as reread
        where {{ raw_row_key('reread.' ~ key_column) }} in ({{ affected_keys }})
        {%- endif %}
    {%- endset -%}
    {{ return({'source': source_sql, 'reload': false}) }}
{%- endmacro %}


{% macro raw_row_key(raw_key_expression) -%}
    {#- The _row_key of a raw key value: the cleaned id, '' when missing. -#}
    coalesce({{ clean_id(raw_key_expression) }}, '')
{%- endmacro %}


{% macro raw_recheck_keys(timestamp_columns, check_unknown=true) -%}
    {#-
        Keys of loaded rows ({{ this }}) whose classification depends on
        more than their raw row: timestamps that were after the build time
        then and are not any more (timestamp_columns: the model's
        range-checked columns), and the customer checks (customer_checks): a
        customer who became a test account or stopped being one, an unknown
        customer who arrived.
    -#}
    select previous._row_key
    from {{ this }} as previous
    cross join (
        select count(*) > 0 as is_present
        from {{ ref('base_shop__customers') }}
        where _row_status = 'staged'
    ) as customer_table
    left join (
        select
            customer_id,
            is_test_account
        from {{ ref('base_shop__customers') }}
        where _row_status = 'staged'
    ) as customers
        on previous.customer_id = customers.customer_id
    where
        (
            previous._row_reason = 'timestamp_out_of_range'
            {%- for column in timestamp_columns %}
            and (
                previous.{{ column }} is null
                or {{ timestamp_in_range('previous.' ~ column) }}
            )
            {%- endfor %}
        )
        or (
            (
                previous._row_reason is null
                or previous._row_reason in ('unknown_customer', 'test_account')
            )
            and previous._row_reason is distinct from (
                {{ first_reason(customer_checks('previous', check_unknown)) }}
            )
        )
{%- endmacro %}


{% macro incremental_raw_rows(relation, reload) -%}
    {#-
        The final select of an incrementally loaded base_ model: the
        classified rows of `relation` stamped with the build time
        (_loaded_at; int_sessions reads what arrived after its watermark) and
        _change null, plus the 'reload' marker row of incremental_replace_keys
        when a file read before changed (every old row is then replaced).
    -#}
    select
        {{ relation }}.*,
        {{ build_time(precise=true) }} as _loaded_at,
        cast(null as {{ dbt.type_string() }}) as _change
    from {{ relation }}
    {%- if reload %}
    union all by name
    select
        '' as _row_key,
        'reload' as _change
    {%- endif %}
{%- endmacro %}
