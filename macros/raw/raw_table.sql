{#
    Raw tables of the contract (docs/raw_contract.md).

    raw_table(table_name) renders a select statement that returns exactly the
    contract's columns of one raw table, in contract order, whatever the file
    holds: absent optional columns are null, extra columns are ignored, a
    missing optional file is an empty result. A missing required file or a
    missing required column stops the build with an error that names the
    file, the column and the columns found.
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
    {%- if path.endswith('.parquet') -%}
        {%- set reader = "read_parquet('" ~ path ~ "')" -%}
    {%- else -%}
        {%- set reader = "read_csv('" ~ path
            ~ "', header = true, all_varchar = true)" -%}
    {%- endif -%}

    {%- set described = run_query("describe select * from " ~ reader) -%}
    {%- set found_names = described.columns[0].values() | list -%}
    {%- set by_lower_name = {} -%}
    {%- for name in found_names -%}
        {%- do by_lower_name.update({name | lower: name}) -%}
    {%- endfor -%}

    {%- for column in columns -%}
        {%- if column.required and column.name not in by_lower_name -%}
            {{ exceptions.raise_compiler_error(
                "Raw file " ~ path ~ " has no column " ~ column.name
                ~ " (found: " ~ (found_names | join(', ')) ~ "). "
                ~ "Add or rename the column; see docs/raw_contract.md.") }}
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
