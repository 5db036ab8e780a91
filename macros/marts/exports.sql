{#-
    Exports (models/exports): where their files go, and the salt of the
    pseudonymized customer ids. The exports belong to their warehouse: by
    default <warehouse stem>.exports/ next to the warehouse file, so that two
    warehouses in one folder (a past date built into past.duckdb beside
    warehouse.duckdb) never write or read each other's files. What must not
    pass through dbt (the salt) or can only be known when the build runs
    (absolute paths) comes from the dbt-duckdb plugin
    predictive_segments.export_runtime (profiles.yml).
-#}

{% macro exports_dir() -%}
    {#-
        The exports directory as configured, relative to where dbt runs
        unless absolute: var exports_dir, else the environment variable
        SEGMENTS_EXPORTS_DIR, else <warehouse stem>.exports next to the
        warehouse file (target.path, SEGMENTS_DB): warehouse.duckdb ->
        warehouse.exports, target/ci/ci.duckdb -> target/ci/ci.exports. A
        warehouse that is not a file (:memory:) exports to exports/.
    -#}
    {%- set configured = var('exports_dir', none) -%}
    {%- if configured is none or configured | string | trim == '' -%}
        {%- set configured = env_var('SEGMENTS_EXPORTS_DIR', '') -%}
    {%- endif -%}
    {%- set configured = configured | string | trim -%}
    {%- if configured != '' -%}
        {{ return(configured.rstrip('/') or '/') }}
    {%- endif -%}
    {%- set warehouse = (target.get('path') or '') | string -%}
    {%- if warehouse == '' or warehouse.startswith(':memory:')
        or modules.re.match('^[a-z]+:', warehouse) -%}
        {{ return('exports') }}
    {%- endif -%}
    {%- set folder, _, file_name = warehouse.rpartition('/') -%}
    {%- set stem = file_name.rpartition('.')[0] or file_name -%}
    {{ return((folder ~ '/' if folder else '') ~ stem ~ '.exports') }}
{%- endmacro %}


{% macro require_export_runtime(function_name) -%}
    {#- Stops with what to do when the plugin's function is not there. -#}
    {%- set found = run_query(
        "select count(*) from duckdb_functions() where function_name = "
        ~ sql_string(function_name)) -%}
    {%- if found.rows[0][0] == 0 -%}
        {{ exceptions.raise_compiler_error(
            "The DuckDB function " ~ function_name ~ " is missing: the "
            ~ "exports need the dbt-duckdb plugin "
            ~ "predictive_segments.export_runtime. Add `- module: "
            ~ "predictive_segments.export_runtime` under plugins: in your "
            ~ "profiles.yml (see this project's profiles.yml).") }}
    {%- endif -%}
{%- endmacro %}


{% macro export_directory() -%}
    {#-
        exports_dir() made absolute against the directory dbt runs in, when
        the build runs (plugin function segments_absolute_path): the views
        of the export models then read their own files from wherever the
        warehouse is opened. As configured when not executing.
    -#}
    {%- set directory = exports_dir() -%}
    {%- if not execute or render_only() -%}
        {{ return(directory) }}
    {%- endif -%}
    {%- do require_export_runtime('segments_absolute_path') -%}
    {%- set resolved = run_query(
        "select segments_absolute_path(" ~ sql_string(directory) ~ ")") -%}
    {{ return(resolved.rows[0][0]) }}
{%- endmacro %}


{% macro export_location(file_name) -%}
    {#-
        The `location` of an export model, given to it as the template
        "{{ export_location('<file>') }}", which dbt-duckdb's external
        materialization renders when the model runs: <export_directory()>/
        <file_name>, escaped the adapter's way because the materialization
        writes it between single quotes (COPY ... TO '<location>', the view's
        read_parquet('<location>')) without escaping it.
    -#}
    {{ return(dbt.escape_single_quotes(export_directory() ~ '/' ~ file_name)) }}
{%- endmacro %}


{% macro create_exports_dir() -%}
    {#-
        on-run-start: DuckDB's COPY creates no directory, so a zero-row
        per-thread COPY creates the exports directory (export_directory();
        one level: its parent must exist) before the external models write
        into it, leaving an empty marker file .exports_dir_0.csv.
    -#}
    {{ return(adapter.dispatch('create_exports_dir', 'predictive_segments')()) }}
{%- endmacro %}

{% macro default__create_exports_dir() -%}
    copy (select 1 as created where 1 = 0) to {{ sql_string(export_directory()) }}
    (format csv, header false, per_thread_output true,
     overwrite_or_ignore true, filename_pattern '.exports_dir_{i}')
{%- endmacro %}


{% macro export_salt() -%}
    {#-
        An SQL expression for the export salt (SEGMENTS_EXPORT_SALT) that
        holds no secret: DuckDB reads it when the query runs (plugin function
        segments_export_salt), so the salt never reaches compiled SQL, dbt's
        artifacts or logs. When the build runs, a salt that is missing or too
        short stops the model with what to do.
    -#}
    {{ return(adapter.dispatch('export_salt', 'predictive_segments')()) }}
{%- endmacro %}

{% macro duckdb__export_salt() -%}
    {%- if execute and not render_only() -%}
        {%- do require_export_runtime('segments_export_salt') -%}
        {%- set problem = run_query(
            "select segments_export_salt_problem()").rows[0][0] -%}
        {%- if problem is not none -%}
            {{ exceptions.raise_compiler_error(problem) }}
        {%- endif -%}
    {%- endif -%}
    segments_export_salt()
{%- endmacro %}

{% macro default__export_salt() -%}
    {%- if execute and not render_only() -%}
        {{ exceptions.raise_compiler_error(
            "var export_hash_customer_ids: hashed export ids need the salt "
            ~ "read at run time inside the engine (DuckDB: plugin "
            ~ "predictive_segments.export_runtime), which is not available on "
            ~ target.type ~ ". Set export_hash_customer_ids false.") }}
    {%- endif -%}
    cast(null as {{ dbt.type_string() }})
{%- endmacro %}


{% macro sha256_hex(expression) -%}
    {#- SHA-256 of a string expression as 64 lowercase hex characters. -#}
    {{ return(adapter.dispatch('sha256_hex', 'predictive_segments')(expression)) }}
{%- endmacro %}

{% macro default__sha256_hex(expression) -%}
    sha256({{ expression }})
{%- endmacro %}

{% macro spark__sha256_hex(expression) -%}
    sha2({{ expression }}, 256)
{%- endmacro %}
