{#
    Lenient readers for raw values (docs/raw_contract.md, "Types"). Each
    returns null when a value cannot be read; the staging models turn that
    null into a quarantine reason, so nothing is dropped silently.
#}

{% macro clean_id(expression) -%}
    nullif({{ trim_whitespace(
        'cast(' ~ expression ~ ' as ' ~ dbt.type_string() ~ ')') }}, '')
{%- endmacro %}


{% macro clean_code(expression) -%}
    nullif(lower({{ trim_whitespace(
        'cast(' ~ expression ~ ' as ' ~ dbt.type_string() ~ ')') }}), '')
{%- endmacro %}


{% macro trim_whitespace(expression) -%}
    {#-
        Strips leading and trailing white space of every kind (tabs, line
        breaks, no-break and other Unicode spaces, zero-width spaces, byte
        order marks), so that an id exported with them still matches.
    -#}
    {{ return(adapter.dispatch('trim_whitespace', 'predictive_segments')(expression)) }}
{%- endmacro %}

{% macro default__trim_whitespace(expression) -%}
    regexp_replace(
        {{ expression }},
        '^[\\s\\p{Z}\\x{200B}\\x{FEFF}]+|[\\s\\p{Z}\\x{200B}\\x{FEFF}]+$',
        ''
    )
{%- endmacro %}

{% macro duckdb__trim_whitespace(expression) -%}
    {#-
        Most values start and end with a printable ASCII character and need
        no regular expression (which costs ~0.5 s per million values); only
        the others are trimmed by it.
    -#}
    case
        when ascii({{ expression }}) between 33 and 126
            and ascii(reverse({{ expression }})) between 33 and 126
            then {{ expression }}
        else regexp_replace(
            {{ expression }},
            '^[\s\p{Z}\x{200B}\x{FEFF}]+|[\s\p{Z}\x{200B}\x{FEFF}]+$',
            '',
            'g'
        )
    end
{%- endmacro %}


{% macro parse_number(expression) -%}
    {{ try_cast(
        'trim(cast(' ~ expression ~ ' as ' ~ dbt.type_string() ~ '))',
        'double') }}
{%- endmacro %}


{% macro parse_integer(expression) -%}
    {#-
        A whole number that fits an integer, or null: 1985.5, 1e12, nan and
        inf are not read (a plain cast would round or overflow).
    -#}
    {%- set number = parse_number(expression) -%}
    case
        when {{ number }} = floor({{ number }})
            then {{ try_cast(number, dbt.type_int()) }}
    end
{%- endmacro %}


{% macro parse_utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('parse_utc_timestamp', 'predictive_segments')(expression)) }}
{%- endmacro %}

{% macro default__parse_utc_timestamp(expression) -%}
    to_utc_timestamp(
        {{ try_cast(expression, dbt.type_timestamp()) }}, 'UTC'
    )
{%- endmacro %}

{% macro duckdb__parse_utc_timestamp(expression) -%}
    {#-
        Text with an offset is converted to UTC; text without one is UTC.
        A Parquet TIMESTAMP column is already UTC (contract), so it is read
        as is: typeof() is folded when the query is planned, and parsing
        text through ICU costs ~0.3 s per million rows.
    -#}
    case
        when typeof({{ expression }}) in (
            'TIMESTAMP', 'TIMESTAMP_S', 'TIMESTAMP_MS', 'TIMESTAMP_NS')
            then try_cast({{ expression }} as timestamp)
        else timezone('UTC', try_cast({{ expression }} as timestamptz))
    end
{%- endmacro %}


{% macro row_hash(columns) -%}
    {{ return(adapter.dispatch('row_hash', 'predictive_segments')(columns)) }}
{%- endmacro %}

{% macro duckdb__row_hash(columns) -%}
    {#-
        64-bit hash of a whole raw row. Exact duplicates are found among rows
        with the same key and the same hash (see classify_raw_rows), so a
        collision would need equal keys and equal 64-bit hashes.
    -#}
    hash({{ columns | join(', ') }})
{%- endmacro %}

{% macro default__row_hash(columns) -%}
    {#- Hash of a whole raw row: equal for exact duplicates only. -#}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append(
            "coalesce(cast(" ~ column ~ " as " ~ dbt.type_string()
            ~ "), '\\x00')") -%}
        {%- if not loop.last -%}{%- do parts.append("'\\x1f'") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}


{% macro raw_record(columns) -%}
    {{ return(adapter.dispatch('raw_record', 'predictive_segments')(columns)) }}
{%- endmacro %}

{% macro default__raw_record(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("'" ~ column.split('.')[-1] ~ "='") -%}
        {%- do parts.append(
            "coalesce(cast(" ~ column ~ " as " ~ dbt.type_string()
            ~ "), 'null')") -%}
        {%- if not loop.last -%}{%- do parts.append("'; '") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.concat(parts) }}
{%- endmacro %}

{% macro duckdb__raw_record(columns) -%}
    {#-
        The raw values as text in a struct: cheap to carry through staging;
        raw_record_text renders it as a JSON object, for quarantined rows
        only.
    -#}
    struct_pack(
    {%- for column in columns %}
        "{{ column.split('.')[-1] }}" := cast({{ column }} as varchar)
        {%- if not loop.last %},{% endif %}
    {%- endfor %}
    )
{%- endmacro %}


{% macro raw_record_text(expression) -%}
    {#- A raw record (raw_record) as text, for reading a quarantined row. -#}
    {{ return(adapter.dispatch('raw_record_text', 'predictive_segments')(expression)) }}
{%- endmacro %}

{% macro default__raw_record_text(expression) -%}
    {{ expression }}
{%- endmacro %}

{% macro duckdb__raw_record_text(expression) -%}
    cast(to_json({{ expression }}) as varchar)
{%- endmacro %}


{% macro build_time(precise=false) -%}
    {#-
        When this build started (UTC): later timestamps are impossible.
        precise: to the microsecond (when rows record the build that loaded
        them), else to the second.
    -#}
    {%- set format = "%Y-%m-%d %H:%M:%S.%f" if precise else "%Y-%m-%d %H:%M:%S" -%}
    cast('{{ run_started_at.strftime(format) }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}


{% macro min_valid_timestamp() -%}
    cast('{{ var("min_valid_date") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}


{% macro timestamp_in_range(expression) -%}
    ({{ expression }} >= {{ min_valid_timestamp() }}
        and {{ expression }} <= {{ build_time() }})
{%- endmacro %}


{% macro sql_string_list(values) -%}
    {%- for value in values -%}
        '{{ value | replace("'", "''") }}'{% if not loop.last %}, {% endif %}
    {%- endfor -%}
{%- endmacro %}


{% macro regex_matches(expression, pattern) -%}
    {{ return(adapter.dispatch('regex_matches', 'predictive_segments')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regex_matches(expression, pattern) -%}
    ({{ expression }} rlike '{{ pattern | replace("'", "''") }}')
{%- endmacro %}

{% macro duckdb__regex_matches(expression, pattern) -%}
    regexp_matches({{ expression }}, '{{ pattern | replace("'", "''") }}')
{%- endmacro %}


{% macro try_cast(expression, type) -%}
    {#- A cast that yields null instead of failing on an unreadable value. -#}
    {{ return(adapter.dispatch('try_cast', 'predictive_segments')(expression, type)) }}
{%- endmacro %}

{% macro default__try_cast(expression, type) -%}
    {{ dbt.safe_cast(expression, type) }}
{%- endmacro %}

{% macro duckdb__try_cast(expression, type) -%}
    try_cast({{ expression }} as {{ type }})
{%- endmacro %}


{% macro type_money() -%}
    {#- Money in major units (docs/raw_contract.md). -#}
    decimal(18, 2)
{%- endmacro %}


{% macro star_except(relation, columns) -%}
    {#- Every column of `relation` but `columns`. -#}
    {{ return(adapter.dispatch('star_except', 'predictive_segments')(relation, columns)) }}
{%- endmacro %}

{% macro default__star_except(relation, columns) -%}
    {{ relation }}.* except ({{ columns | join(', ') }})
{%- endmacro %}

{% macro duckdb__star_except(relation, columns) -%}
    {{ relation }}.* exclude ({{ columns | join(', ') }})
{%- endmacro %}


{% macro matches_in_distinct_values(values_relation, expression, pattern) -%}
    {#-
        Regular expressions are costly: evaluate `pattern` once per distinct
        value of `expression` in `values_relation`. Renders a relation with
        columns matched_value, is_match.
    -#}
    select
        distinct_values.matched_value,
        {{ regex_matches('distinct_values.matched_value', pattern) }} as is_match
    from (
        select distinct {{ expression }} as matched_value
        from {{ values_relation }}
    ) as distinct_values
{%- endmacro %}
