{#
    Raw tables of the contract (docs/raw_contract.md).

    A raw table is one file, <table>.parquet (or <table>.csv), and/or a
    directory <table>/ of *.parquet and *.csv files (for example one file per
    day, appended by the loader) read together as one table.

    raw_table(table_name) renders a select statement that returns exactly the
    contract's columns of one raw table, in contract order, then _source_file
    and _source_version, whatever the files hold: absent optional columns are null, extra columns are ignored, a
    missing optional file is an empty result. A missing required file or a
    missing required column stops the build with an error that names the
    file, the column and the columns found; so do an empty file (0 bytes), a
    contract column that appears twice and a CSV file whose rows cannot be
    split into columns (tests/integration/test_raw_fuzz.py).
#}

{% macro raw_table(table_name, files=none) -%}
    {#-
        files: the files to read (items of raw_table_files(table_name));
        default all of them. Every row carries the file it came from
        (_source_file) and that file's version (_source_version: size and
        modification time), which incremental_raw_load compares.
    -#}
    {{ return(adapter.dispatch('raw_table', 'predictive_segments')(table_name, files)) }}
{%- endmacro %}


{% macro raw_contract_table(table_name) -%}
    {#- The source node that declares the contract of one raw table. -#}
    {%- set unique_id = 'source.predictive_segments.shop.' ~ table_name -%}
    {%- if unique_id not in graph.sources -%}
        {{ exceptions.raise_compiler_error(
            "raw_table('" ~ table_name ~ "'): no such table in the raw "
            ~ "contract; declare it in models/staging/_shop__sources.yml") }}
    {%- endif -%}
    {{ return(graph.sources[unique_id]) }}
{%- endmacro %}


{% macro raw_contract_columns(table_name) -%}
    {#- [{name, required}] for each declared column, in declaration order. -#}
    {%- set node = raw_contract_table(table_name) -%}
    {%- set columns = [] -%}
    {%- for column in node.columns.values() -%}
        {%- set meta = column.meta or {} -%}
        {%- set config_meta = (column.config or {}).get('meta', {}) or {} -%}
        {%- do columns.append({
            'name': column.name,
            'required': meta.get('required', config_meta.get('required', false)),
        }) -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}


{% macro raw_dir() -%}
    {{ return(env_var('SEGMENTS_RAW_DIR', 'data/raw').rstrip('/')) }}
{%- endmacro %}


{% macro raw_empty_select(columns) -%}
    select
    {%- for column in columns %}
        cast(null as {{ dbt.type_string() }}) as {{ column.name }},
    {%- endfor %}
        cast(null as {{ dbt.type_string() }}) as _source_file,
        cast(null as {{ dbt.type_string() }}) as _source_version
    where 1 = 0
{%- endmacro %}


{% macro default__raw_table(table_name, files) -%}
    {#- Engines with a catalogue load raw tables as ordinary sources. -#}
    {%- set relation = source('shop', table_name) -%}
    select
    {%- for column in raw_contract_columns(table_name) %}
        {{ column.name }},
    {%- endfor %}
        cast(null as {{ dbt.type_string() }}) as _source_file,
        cast(null as {{ dbt.type_string() }}) as _source_version
    from {{ relation }}
{%- endmacro %}


{% macro duckdb__raw_table_files(table_name) -%}
    {#-
        [{path, version}] of the table's files, sorted by path: the single
        file (Parquet wins over CSV) and the files of the directory. version:
        size and modification time, so that a file rewritten in place is
        seen as changed.
    -#}
    {%- set directory = raw_dir() -%}
    {%- set parquet_path = directory ~ '/' ~ table_name ~ '.parquet' -%}
    {%- set csv_path = directory ~ '/' ~ table_name ~ '.csv' -%}
    {%- set found = run_query(
        "with files as (select file from glob('" ~ parquet_path ~ "') "
        ~ "union all select file from glob('" ~ csv_path ~ "') "
        ~ "union all select file from glob('" ~ directory ~ '/' ~ table_name
        ~ "/*.parquet') union all select file from glob('" ~ directory ~ '/'
        ~ table_name ~ "/*.csv')) select file from files order by file") -%}
    {%- set paths = found.columns[0].values() | list -%}
    {%- if parquet_path in paths and csv_path in paths -%}
        {%- do paths.remove(csv_path) -%}
    {%- endif -%}
    {%- if paths | length == 0 -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set quoted = [] -%}
    {%- for path in paths -%}
        {%- do quoted.append("'" ~ (path | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    {%- set described = run_query(
        "select filename, cast(size as varchar) || ':' "
        ~ "|| cast(epoch_us(last_modified) as varchar) "
        ~ "from read_blob([" ~ quoted | join(', ') ~ "]) order by filename") -%}
    {%- set files = [] -%}
    {%- for row in described.rows -%}
        {%- do files.append({'path': row[0], 'version': row[1]}) -%}
    {%- endfor -%}
    {{ return(files) }}
{%- endmacro %}


{% macro raw_table_files(table_name) -%}
    {%- if not execute or var('render_only', false) -%}
        {{ return([]) }}
    {%- endif -%}
    {{ return(adapter.dispatch('raw_table_files', 'predictive_segments')(table_name)) }}
{%- endmacro %}

{% macro default__raw_table_files(table_name) -%}
    {{ return([]) }}
{%- endmacro %}


{% macro duckdb__raw_table(table_name, files) -%}
    {#- source() is called unconditionally so lineage and docs show it. -#}
    {%- set relation = source('shop', table_name) -%}
    {%- if not execute -%}
        {{ return('select 1 as placeholder') }}
    {%- endif -%}
    {%- set columns = raw_contract_columns(table_name) -%}
    {%- if var('render_only', false) -%}
        {#- Linting renders SQL without reading any file. -#}
        {{ return(raw_empty_select(columns)) }}
    {%- endif -%}
    {%- set node = raw_contract_table(table_name) -%}
    {%- set table_meta = node.meta or {} -%}
    {%- set required_table = table_meta.get('required', false) -%}
    {%- set all_files = raw_table_files(table_name) -%}

    {%- if all_files | length == 0 and required_table -%}
        {%- set directory = raw_dir() -%}
        {{ exceptions.raise_compiler_error(
            "Required raw file " ~ table_name ~ ".parquet (or "
            ~ table_name ~ ".csv) was not found in '" ~ directory
            ~ "', nor a directory " ~ table_name ~ "/ of such files. "
            ~ "Set SEGMENTS_RAW_DIR to the directory that holds your "
            ~ "raw files, or run `make demo-data`; see "
            ~ "docs/raw_contract.md.") }}
    {%- endif -%}
    {%- set selected = all_files if files is none else files -%}
    {%- if selected | length == 0 -%}
        {{ return(raw_empty_select(columns)) }}
    {%- endif -%}
    {%- for file in selected %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    {{ raw_file_select(table_name, file, columns, required_table) }}
    {%- endfor %}
{%- endmacro %}


{% macro raw_file_select(table_name, file, columns, required_table) -%}
    {#- One raw file, checked against the contract (see the top of this file). -#}
    {%- set path = file.path -%}
    {%- set quoted_path = path | replace("'", "''") -%}
    {%- if file.version.startswith('0:') -%}
        {{ exceptions.raise_compiler_error(
            "Raw file " ~ path ~ " is empty (0 bytes): a CSV file needs at "
            ~ "least its header row, a Parquet file its schema. Write the "
            ~ "file again" ~ ("" if required_table else ", or remove it if "
            ~ "there is no " ~ table_name ~ " data")
            ~ "; see docs/raw_contract.md.") }}
    {%- endif -%}
    {%- if path.endswith('.parquet') -%}
        {%- set reader = "read_parquet('" ~ quoted_path ~ "')" -%}
        {#- Top-level names as written: DuckDB renames duplicates. -#}
        {%- set header_names = run_query(
            "select name from parquet_schema('" ~ quoted_path ~ "') "
            ~ "offset 1").columns[0].values() | list -%}
    {%- else -%}
        {%- set reader = "read_csv('" ~ quoted_path
            ~ "', header = true, all_varchar = true)" -%}
        {%- set header_row = run_query(
            "select * from read_csv('" ~ quoted_path ~ "', header = false, "
            ~ "all_varchar = true) limit 1") -%}
        {%- set header_names = header_row.rows[0].values() | list
            if header_row.rows | length > 0 else [] -%}
    {%- endif -%}

    {%- set described = run_query("describe select * from " ~ reader) -%}
    {%- set found_names = described.columns[0].values() | list -%}
    {%- set by_lower_name = {} -%}
    {%- for name in found_names -%}
        {%- do by_lower_name.update({name | lower: name}) -%}
    {%- endfor -%}
    {%- set header_lower_names = [] -%}
    {%- for name in header_names -%}
        {%- do header_lower_names.append((name or '') | trim | lower) -%}
    {%- endfor -%}

    {%- if path.endswith('.csv') and found_names | length == 1
        and (',' in found_names[0] or ';' in found_names[0]) -%}
        {{ exceptions.raise_compiler_error(
            "Raw file " ~ path ~ " could not be split into columns: its "
            ~ "header was read as the single column '" ~ found_names[0]
            ~ "'. This happens when rows do not all have the header's number "
            ~ "of fields (a missing or extra field, or a value with an "
            ~ "unquoted separator). Fix or quote those rows; see "
            ~ "docs/raw_contract.md.") }}
    {%- endif -%}

    {%- for column in columns -%}
        {%- if column.required and column.name not in by_lower_name -%}
            {{ exceptions.raise_compiler_error(
                "Raw file " ~ path ~ " has no column " ~ column.name
                ~ " (found: " ~ (found_names | join(', ')) ~ "). "
                ~ "Add or rename the column; see docs/raw_contract.md.") }}
        {%- endif -%}
        {%- if header_lower_names.count(column.name) > 1 -%}
            {{ exceptions.raise_compiler_error(
                "Raw file " ~ path ~ " has the column " ~ column.name
                ~ " more than once (columns: " ~ (header_names | join(', '))
                ~ "; names are case-insensitive), so it is not clear which "
                ~ "one to read. Keep one; see docs/raw_contract.md.") }}
        {%- endif -%}
    {%- endfor -%}

    select
    {%- for column in columns %}
        {%- if column.name in by_lower_name %}
        "{{ by_lower_name[column.name] | replace('"', '""') }}" as {{ column.name }}
        {%- else %}
        cast(null as {{ dbt.type_string() }}) as {{ column.name }}
        {%- endif %},
    {%- endfor %}
        '{{ quoted_path }}' as _source_file,
        '{{ file.version }}' as _source_version
    from {{ reader }}
{%- endmacro %}
