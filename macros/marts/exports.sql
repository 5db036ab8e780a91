{% macro create_exports_dir() -%}
    {#-
        on-run-start: DuckDB's COPY creates no directory, so a zero-row
        per-thread COPY creates var exports_dir (one level: its parent must
        exist) before the external models write into it, leaving an empty
        marker file .exports_dir_0.csv.
    -#}
    {{ return(adapter.dispatch('create_exports_dir', 'predictive_segments')()) }}
{%- endmacro %}

{% macro default__create_exports_dir() -%}
    copy (select 1 as created where 1 = 0) to '{{ var('exports_dir') }}'
    (format csv, header false, per_thread_output true,
     overwrite_or_ignore true, filename_pattern '.exports_dir_{i}')
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
