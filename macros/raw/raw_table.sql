{#
    Raw tables of the contract (docs/raw_contract.md).

    A raw table is one file, <table>.parquet (or <table>.csv, .csv.gz,
    .csv.zst; names are case-insensitive), and/or a folder <table>/ of such
    files at any depth (for example one file per day appended by the loader,
    or Hive partitions key=value/ written by Spark), read together as one
    table; see duckdb__raw_table_files for the rules.

    raw_table(table_name) renders a select statement that returns exactly the
    contract's columns of one raw table, in contract order, then _source_file
    and _source_version, whatever the files hold: absent optional columns are null, extra columns are ignored, a
    missing optional file is an empty result. A missing required file or a
    missing required column stops the build with an error that names the
    file, the column and the columns found; so do an empty file (0 bytes), a
    contract column that appears twice and a CSV file whose rows cannot be
    split into columns (tests/integration/test_raw_fuzz.py), two single
    files of one table (unless var raw_file_format picks one) and a damaged
    file (raw_files_check; tests/integration/test_raw_files.py).
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


{% macro raw_data_file_kind(name) -%}
    {#-
        How a raw data file is read, from its name (case-insensitive):
        {format: 'parquet' | 'csv', compression, extension}, or none when
        the name is not a data file's.
    -#}
    {%- set lower_name = name | lower -%}
    {%- for extension, kind in [
        ('.parquet', {'format': 'parquet', 'compression': none}),
        ('.csv', {'format': 'csv', 'compression': 'none'}),
        ('.csv.gz', {'format': 'csv', 'compression': 'gzip'}),
        ('.csv.zst', {'format': 'csv', 'compression': 'zstd'}),
    ] -%}
        {%- if lower_name.endswith(extension) -%}
            {{ return({
                'format': kind.format,
                'compression': kind.compression,
                'extension': extension,
            }) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}


{% macro raw_glob_literal(pattern) -%}
    {{ return(sql_string(pattern)) }}
{%- endmacro %}


{% macro raw_name_pattern(name) -%}
    {#- A glob pattern that matches `name` in any letter case. -#}
    {%- set characters = [] -%}
    {%- for character in name -%}
        {%- if character | lower != character | upper -%}
            {%- do characters.append(
                '[' ~ (character | lower) ~ (character | upper) ~ ']') -%}
        {%- else -%}
            {%- do characters.append(character) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(characters | join('')) }}
{%- endmacro %}


{% macro raw_file_format_var() -%}
    {#- var('raw_file_format'): none, 'parquet' or 'csv'. -#}
    {%- set value = var('raw_file_format', none) -%}
    {%- if value is none or (value | string | lower) in ('', 'none', 'null') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if (value | string | lower) not in ('parquet', 'csv') -%}
        {{ exceptions.raise_compiler_error(
            "var raw_file_format is '" ~ value ~ "': use null (a table "
            ~ "delivered as more than one file, such as orders.csv and "
            ~ "orders.parquet, stops the build), 'parquet' or 'csv' (read "
            ~ "that one and ignore the others); see docs/raw_contract.md.") }}
    {%- endif -%}
    {{ return(value | string | lower) }}
{%- endmacro %}


{% macro duckdb__raw_table_files(table_name) -%}
    {#-
        [{path, version, format, compression, partitions}] of the table's
        data files, sorted by path (docs/raw_contract.md, top section):
        - the single file <table>.parquet, .csv, .csv.gz or .csv.zst at the
          top of the raw directory (names are case-insensitive; two of them
          stop the build unless var raw_file_format picks one);
        - every data file below a folder <table>/ (or <table>.parquet/,
          <table>.csv/ as Spark names its output), at any depth, except
          names starting with _ or . (Spark's _SUCCESS, .crc files). Other
          files are not read and a warning names them.
        version: size and modification time, so that a file rewritten in
        place is seen as changed. partitions: {key: value} of the folders
        named key=value between the table folder and the file (Hive
        partitions), keys lowercased, the innermost value of a key.
    -#}
    {%- set directory = raw_dir() -%}
    {%- set name_pattern = directory ~ '/' ~ raw_name_pattern(table_name) -%}
    {%- set chosen_format = raw_file_format_var() -%}

    {#- Glob returns directories for a pattern that ends with '/', with the
        path normalised as it is in the paths of their files. -#}
    {%- set found = run_query(
        "select 'file' as kind, file from glob("
        ~ raw_glob_literal(name_pattern ~ '.*') ~ ") "
        ~ "union all select 'folder', file from glob("
        ~ raw_glob_literal(name_pattern ~ '/') ~ ") "
        ~ "union all select 'folder', file from glob("
        ~ raw_glob_literal(name_pattern ~ '.*/') ~ ") "
        ~ "order by file") -%}
    {%- set singles = [] -%}
    {%- set folders = [] -%}
    {%- set not_read = [] -%}
    {%- for row in found.rows -%}
        {%- set base_name = row[1].rstrip('/').split('/')[-1] -%}
        {%- set suffix = (base_name | lower)[table_name | length:] -%}
        {%- set kind = raw_data_file_kind(base_name) -%}
        {%- if row[0] == 'file' -%}
            {%- if kind is not none and suffix == kind.extension -%}
                {%- do singles.append(
                    {'path': row[1], 'name': base_name, 'kind': kind}) -%}
            {%- else -%}
                {%- do not_read.append(base_name) -%}
            {%- endif -%}
        {%- elif suffix == '' or suffix in ('.parquet', '.csv') -%}
            {%- do folders.append(row[1].rstrip('/')) -%}
        {%- else -%}
            {%- do not_read.append(base_name ~ '/') -%}
        {%- endif -%}
    {%- endfor -%}

    {%- if singles | length > 1 -%}
        {%- set names = [] -%}
        {%- for single in singles -%}{%- do names.append(single.name) -%}{%- endfor -%}
        {%- if chosen_format is none -%}
            {{ exceptions.raise_compiler_error(
                "Raw directory " ~ directory ~ " holds more than one file "
                ~ "for the table " ~ table_name ~ ": " ~ (names | join(', '))
                ~ ". A table is read from one such file (plus the files of a "
                ~ "folder " ~ table_name ~ "/), and these may hold different "
                ~ "data. Remove all but one, or set var raw_file_format to "
                ~ "'parquet' or 'csv' to read that one and ignore the others "
                ~ "(dbt build --vars '{raw_file_format: parquet}'); see "
                ~ "docs/raw_contract.md.") }}
        {%- endif -%}
        {%- set kept = [] -%}
        {%- set ignored = [] -%}
        {%- for single in singles -%}
            {%- if single.kind.format == chosen_format -%}
                {%- do kept.append(single) -%}
            {%- else -%}
                {%- do ignored.append(single.name) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if kept | length != 1 -%}
            {{ exceptions.raise_compiler_error(
                "Raw directory " ~ directory ~ " holds more than one file "
                ~ "for the table " ~ table_name ~ ": " ~ (names | join(', '))
                ~ ", and var raw_file_format = '" ~ chosen_format ~ "' "
                ~ ("matches none of them" if kept | length == 0
                    else "leaves " ~ (kept | length) ~ " of them")
                ~ ". Remove all but one; see docs/raw_contract.md.") }}
        {%- endif -%}
        {%- do log(
            table_name ~ ": reading " ~ kept[0].name ~ " and ignoring "
            ~ (ignored | join(', ')) ~ " in " ~ directory
            ~ " (var raw_file_format = '" ~ chosen_format ~ "').",
            info=true) -%}
        {%- set singles = kept -%}
    {%- endif -%}

    {%- set data_files = [] -%}
    {%- for single in singles -%}
        {%- do data_files.append({
            'path': single.path, 'kind': single.kind, 'partitions': {}}) -%}
    {%- endfor -%}
    {%- if folders | length > 0 -%}
        {%- set listed = [] -%}
        {%- for folder in folders -%}
            {%- do listed.append(
                "select " ~ raw_glob_literal(folder) ~ " as folder, file "
                ~ "from glob(" ~ raw_glob_literal(folder ~ '/**') ~ ")") -%}
        {%- endfor -%}
        {%- set folder_files = run_query(
            listed | join(' union all ') ~ " order by file") -%}
        {%- for row in folder_files.rows -%}
            {%- set folder, path = row[0], row[1] -%}
            {%- set folder_name = folder.split('/')[-1] -%}
            {%- if path.startswith(folder ~ '/') -%}
                {%- set parts = path[folder | length + 1:].split('/') -%}
            {%- else -%}
                {%- set parts = [path.split('/')[-1]] -%}
            {%- endif -%}
            {%- set hidden = [] -%}
            {%- for part in parts if part.startswith('_') or part.startswith('.') -%}
                {%- do hidden.append(part) -%}
            {%- endfor -%}
            {%- set kind = raw_data_file_kind(parts[-1]) -%}
            {%- if hidden | length > 0 -%}
                {#- Spark's _SUCCESS, _temporary/, .crc; .DS_Store. -#}
            {%- elif kind is none -%}
                {%- do not_read.append(folder_name ~ '/' ~ (parts | join('/'))) -%}
            {%- else -%}
                {%- set partitions = {} -%}
                {%- for part in parts[:-1] if '=' in part -%}
                    {%- set key_value = part.split('=', 1) -%}
                    {%- do partitions.update(
                        {key_value[0] | trim | lower: key_value[1]}) -%}
                {%- endfor -%}
                {%- do data_files.append({
                    'path': path, 'kind': kind, 'partitions': partitions}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}

    {%- if not_read | length > 0 -%}
        {%- do exceptions.warn(
            "Warning: raw directory " ~ directory ~ ": " ~ (not_read | length)
            ~ " file(s) of the table " ~ table_name ~ " are not read: "
            ~ (not_read[:5] | join(', '))
            ~ (", ..." if not_read | length > 5 else "")
            ~ ". Staging reads " ~ table_name ~ ".parquet, .csv, .csv.gz or "
            ~ ".csv.zst (names are case-insensitive) and the files with "
            ~ "those extensions in a folder " ~ table_name ~ "/; names "
            ~ "starting with _ or . in the folder are skipped. Convert these "
            ~ "files or move them out of the raw directory; see "
            ~ "docs/raw_contract.md.") -%}
    {%- endif -%}
    {%- if data_files | length == 0 -%}
        {{ return([]) }}
    {%- endif -%}

    {%- set quoted = [] -%}
    {%- set by_path = {} -%}
    {%- for file in data_files -%}
        {%- do quoted.append(raw_glob_literal(file.path)) -%}
        {%- do by_path.update({file.path: file}) -%}
    {%- endfor -%}
    {%- set described = run_query(
        "select filename, cast(size as varchar) || ':' "
        ~ "|| cast(epoch_us(last_modified) as varchar) "
        ~ "from read_blob([" ~ quoted | join(', ') ~ "]) order by filename") -%}
    {%- set files = [] -%}
    {%- for row in described.rows -%}
        {%- set file = by_path.get(row[0], {
            'kind': raw_data_file_kind(row[0]), 'partitions': {}}) -%}
        {%- do files.append({
            'path': row[0],
            'version': row[1],
            'format': file.kind.format,
            'compression': file.kind.compression,
            'partitions': file.partitions,
        }) -%}
    {%- endfor -%}
    {{ return(files) }}
{%- endmacro %}


{% macro raw_table_files(table_name) -%}
    {%- if not execute or render_only() -%}
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
    {%- if render_only() -%}
        {#- Linting renders SQL without reading any file. -#}
        {{ return(raw_empty_select(columns)) }}
    {%- endif -%}
    {%- set node = raw_contract_table(table_name) -%}
    {%- set table_meta = node.meta or {} -%}
    {%- set required_table = table_meta.get('required', false) -%}

    {%- if files is none -%}
        {%- set selected = raw_table_files(table_name) -%}
        {%- if selected | length == 0 and required_table -%}
            {%- set directory = raw_dir() -%}
            {{ exceptions.raise_compiler_error(
                "Required raw file " ~ table_name ~ ".parquet (or "
                ~ table_name ~ ".csv) was not found in '" ~ directory
                ~ "', nor a folder " ~ table_name ~ "/ of such files "
                ~ "(names are case-insensitive; a CSV file may be compressed: "
                ~ table_name ~ ".csv.gz, " ~ table_name ~ ".csv.zst). "
                ~ "Set SEGMENTS_RAW_DIR to the directory that holds your "
                ~ "raw files, or run `make demo-data`; see "
                ~ "docs/raw_contract.md.") }}
        {%- endif -%}
    {%- else -%}
        {%- set selected = files -%}
    {%- endif -%}
    {%- if selected | length == 0 -%}
        {{ return(raw_empty_select(columns)) }}
    {%- endif -%}
    {%- do raw_files_check(selected) -%}
    {%- for file in selected %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    {{ raw_file_select(table_name, file, columns, required_table) }}
    {%- endfor %}
{%- endmacro %}


{% macro raw_files_check(files) -%}
    {#-
        Stops the build at the first damaged file (a Parquet file whose
        footer cannot be read, a truncated .csv.gz or .csv.zst) with a
        message that names it: raw_file_problem() of the dbt-duckdb plugin
        src/predictive_segments/raw_file_check.py (profiles.yml). Without the
        plugin, DuckDB's own error stops the build when the file is read.
    -#}
    {%- set plugin = run_query(
        "select count(*) from duckdb_functions() "
        ~ "where function_name = 'raw_file_problem'") -%}
    {%- if plugin.rows[0][0] == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set quoted = [] -%}
    {%- for file in files -%}
        {%- do quoted.append(raw_glob_literal(file.path)) -%}
    {%- endfor -%}
    {%- set problems = run_query(
        "select problem from (select raw_file_problem(path) as problem "
        ~ "from unnest([" ~ quoted | join(', ') ~ "]) as paths (path)) "
        ~ "where problem is not null limit 1") -%}
    {%- if problems.rows | length > 0 -%}
        {{ exceptions.raise_compiler_error(problems.rows[0][0]) }}
    {%- endif -%}
{%- endmacro %}


{% macro raw_file_select(table_name, file, columns, required_table) -%}
    {#- One raw file, checked against the contract (see the top of this file). -#}
    {%- set path = file.path -%}
    {%- set quoted_path = path | replace("'", "''") -%}
    {%- set kind = raw_data_file_kind(path) -%}
    {%- set file_format = file.get('format') or (kind.format if kind else 'parquet') -%}
    {%- set compression = file.get('compression')
        or (kind.compression if kind else 'none') or 'none' -%}
    {%- set partitions = file.get('partitions') or {} -%}
    {%- if file.version.startswith('0:') -%}
        {{ exceptions.raise_compiler_error(
            "Raw file " ~ path ~ " is empty (0 bytes): a CSV file needs at "
            ~ "least its header row, a Parquet file its schema. Write the "
            ~ "file again" ~ ("" if required_table else ", or remove it if "
            ~ "there is no " ~ table_name ~ " data")
            ~ "; see docs/raw_contract.md.") }}
    {%- endif -%}
    {#- hive_partitioning = false: partition folders are read as documented
        (below), whatever DuckDB would detect in the path. -#}
    {%- if file_format == 'parquet' -%}
        {%- set reader = "read_parquet('" ~ quoted_path
            ~ "', hive_partitioning = false)" -%}
        {#- Top-level names as written: DuckDB renames duplicates. -#}
        {%- set header_names = run_query(
            "select name from parquet_schema('" ~ quoted_path ~ "') "
            ~ "offset 1").columns[0].values() | list -%}
    {%- else -%}
        {%- set csv_options = "all_varchar = true, hive_partitioning = false, "
            ~ "compression = '" ~ compression ~ "'" -%}
        {%- set reader = "read_csv('" ~ quoted_path
            ~ "', header = true, " ~ csv_options ~ ")" -%}
        {%- set header_row = run_query(
            "select * from read_csv('" ~ quoted_path ~ "', header = false, "
            ~ csv_options ~ ") limit 1") -%}
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

    {%- if file_format == 'csv' and found_names | length == 1
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
        {%- if column.required and column.name not in by_lower_name
            and column.name not in partitions -%}
            {{ exceptions.raise_compiler_error(
                "Raw file " ~ path ~ " has no column " ~ column.name
                ~ " (found: " ~ (found_names | join(', '))
                ~ ("; partition folders: " ~ (partitions.keys() | list | join(', '))
                    if partitions else "")
                ~ "). Add or rename the column; see docs/raw_contract.md.") }}
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
        {%- elif column.name in partitions
            and partitions[column.name] != '__HIVE_DEFAULT_PARTITION__' %}
        url_decode('{{ partitions[column.name] | replace("'", "''") }}') as {{ column.name }}
        {%- else %}
        cast(null as {{ dbt.type_string() }}) as {{ column.name }}
        {%- endif %},
    {%- endfor %}
        '{{ quoted_path }}' as _source_file,
        '{{ file.version }}' as _source_version
    from {{ reader }}
{%- endmacro %}
