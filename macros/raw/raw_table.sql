{#
    Raw tables of the contract (docs/raw_contract.md).

    raw_table(table_name) renders a select statement that returns exactly the
    contract's columns of one raw table, in contract order, whatever the file
    holds: absent optional columns are null, extra columns are ignored, a
    missing optional file is an empty result. A missing required file or a
    missing required column stops the build with an error that names the
    file, the column and the columns found; so do an empty file (0 bytes), a
    contract column that appears twice and a CSV file whose rows cannot be
    split into columns (tests/integration/test_raw_fuzz.py).
#}

{% macro raw_table(table_name) -%}
    {{ return(adapter.dispatch('raw_table', 'predictive_segments')(table_name)) }}
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
        cast(null as {{ dbt.type_string() }}) as {{ column.name }}
        {%- if not loop.last %},{% endif %}
    {%- endfor %}
    where 1 = 0
{%- endmacro %}


{% macro default__raw_table(table_name) -%}
    {#- Engines with a catalogue load raw tables as ordinary sources. -#}
    {%- set relation = source('shop', table_name) -%}
    select
    {%- for column in raw_contract_columns(table_name) %}
        {{ column.name }}{% if not loop.last %},{% endif %}
    {%- endfor %}
    from {{ relation }}
{%- endmacro %}


{% macro duckdb__raw_table(table_name) -%}
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
    {%- set directory = raw_dir() -%}
    {%- set parquet_path = directory ~ '/' ~ table_name ~ '.parquet' -%}
    {%- set csv_path = directory ~ '/' ~ table_name ~ '.csv' -%}
    {%- set found = run_query(
        "select file from glob('" ~ parquet_path ~ "') union all "
        ~ "select file from glob('" ~ csv_path ~ "')") -%}
    {%- set files = found.columns[0].values() | list -%}

    {%- if files | length == 0 -%}
        {%- if required_table -%}
            {{ exceptions.raise_compiler_error(
                "Required raw file " ~ table_name ~ ".parquet (or "
                ~ table_name ~ ".csv) was not found in '" ~ directory
                ~ "'. Set SEGMENTS_RAW_DIR to the directory that holds your "
                ~ "raw files, or run `make demo-data`; see "
                ~ "docs/raw_contract.md.") }}
        {%- endif -%}
        {{ return(raw_empty_select(columns)) }}
    {%- endif -%}

    {%- set path = parquet_path if parquet_path in files else csv_path -%}
    {%- set quoted_path = path | replace("'", "''") -%}
    {%- set sizes = run_query(
        "select size from read_blob('" ~ quoted_path ~ "')") -%}
    {%- if sizes.columns[0].values()[0] == 0 -%}
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
        {%- endif %}
        {%- if not loop.last %},{% endif %}
    {%- endfor %}
    from {{ reader }}
{%- endmacro %}
