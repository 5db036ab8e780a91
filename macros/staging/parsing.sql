{#
    Lenient readers for raw values (docs/raw_contract.md, "Types"). Each
    returns null when a value cannot be read; the staging models turn that
    null into a quarantine reason, so nothing is dropped silently.
#}

{% macro clean_id(expression) -%}
    {#-
        An id as trimmed text, or null when it is empty or a spelling of
        null (var null_like_values: how databases, R, pandas and
        spreadsheets write a missing value), so that a row with such a key
        is quarantined as missing_key instead of becoming a customer "NULL".
    -#}
    {%- set trimmed = trim_whitespace(
        'cast(' ~ expression ~ ' as ' ~ dbt.type_string() ~ ')') -%}
    {%- set spellings = null_like_values() -%}
    {%- if spellings | length == 0 -%}
    nullif({{ trimmed }}, '')
    {%- else -%}
    case
        when {{ trimmed }} = '' then null
        when length({{ trimmed }}) <= {{ spellings | map('length') | max }}
            and {{ is_null_like(trimmed, spellings) }}
            then null
        else {{ trimmed }}
    end
    {%- endif -%}
{%- endmacro %}


{% macro is_null_like(expression, spellings) -%}
    {#- True when `expression` is one of `spellings` (lower case), in any case. -#}
    {{ return(adapter.dispatch('is_null_like', 'predictive_segments')(expression, spellings)) }}
{%- endmacro %}

{% macro default__is_null_like(expression, spellings) -%}
    lower({{ expression }}) in ({{ sql_string_list(spellings) }})
{%- endmacro %}

{% macro duckdb__is_null_like(expression, spellings) -%}
    {#-
        One case-insensitive regular expression, not `in` or a chain of
        `or`: DuckDB rewrites an `in` list (and list_contains) inside the
        key join of keyed_source_ctes into a mark join over every pair of
        rows (CI base_shop__order_items 0.3 s -> 13 s), and a chain of ten
        comparisons of lower() evaluates the trimmed id ten times
        (base_shop__events at 100k demo customers 12 s -> 23 s; with the
        expression: 13 s).
    -#}
    {%- set escaped = [] -%}
    {%- for spelling in spellings -%}
        {%- do escaped.append(modules.re.escape(spelling)) -%}
    {%- endfor -%}
    regexp_full_match(
        {{ expression }},
        '(?i)(?:{{ escaped | join('|') | replace("'", "''") }})'
    )
{%- endmacro %}


{% macro null_like_values() -%}
    {#- var null_like_values, lowercased and checked. -#}
    {%- set configured = var('null_like_values', []) -%}
    {%- if configured is string or configured is mapping
        or configured is not iterable -%}
        {{ exceptions.raise_compiler_error(
            "var null_like_values must be a list of the texts that mean "
            ~ "\"no value\" in your raw ids (e.g. ['NULL', 'N/A']), or [] "
            ~ "to read every text as an id; got " ~ configured) }}
    {%- endif -%}
    {%- set spellings = [] -%}
    {%- for value in configured -%}
        {%- set spelling = (value | string | trim | lower) -%}
        {%- if spelling and spelling not in spellings -%}
            {%- do spellings.append(spelling) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(spellings) }}
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
    {#-
        A number that is not money (a quantity, a rate, a score) as a
        double, or null. Money is read by parse_money: a double cannot hold
        1.005 (it holds 1.00499999...), so it would round to 1.00.
    -#}
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
    cast(
        {{ sql_string(valid_date_var('min_valid_date', var('min_valid_date'))) }}
        as {{ dbt.type_timestamp() }}
    )
{%- endmacro %}


{% macro timestamp_in_range(expression) -%}
    ({{ expression }} >= {{ min_valid_timestamp() }}
        and {{ expression }} <= {{ build_time() }})
{%- endmacro %}


{% macro sql_string(value) -%}
    {#-
        `value` as an SQL string literal, escaped the adapter's way
        (dbt.escape_single_quotes): every path, date, name or pattern that
        comes from the environment or a var goes into SQL through it.
    -#}
    {{ return(dbt.string_literal(dbt.escape_single_quotes(value | string))) }}
{%- endmacro %}


{% macro sql_string_list(values) -%}
    {%- for value in values -%}
        {{ sql_string(value) }}{% if not loop.last %}, {% endif %}
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
    {#-
        Money in major units, to the cent (docs/raw_contract.md): every
        money column of staging, features and marts. Raw amounts are read
        as type_money_exact() and rounded to it by round_money.
    -#}
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


{% macro type_money_exact() -%}
    {#-
        A raw amount as written, before it is rounded to the cent: 6
        decimals, so that 1.005 stays 1.005 (and a rate applied to it rounds
        once, at the end).
    -#}
    decimal(38, 6)
{%- endmacro %}


{% macro type_exchange_rate() -%}
    {#-
        The decimal an exchange rate is applied as (convert_money): 12
        decimals, exact for the rates of the seed currency_rates and within
        1e-7 of a cent on amounts below var max_order_amount otherwise.
    -#}
    decimal(38, 12)
{%- endmacro %}


{% macro parse_money(expression, below=none) -%}
    {#-
        A raw amount (a number, or text holding one) as type_money_exact(),
        never through a double; null when it is not a number, and also when
        it is a number no decimal holds (nan, inf, 1e308): money_is_number
        tells the two apart (invalid_amount, absurd_amount). below: also
        null when the absolute amount is `below` or more, so that an absurd
        amount can never overflow the money it would be rounded or
        converted to, whatever order a query evaluates rows in.
    -#}
    {%- set amount = try_cast(
        'trim(cast(' ~ expression ~ ' as ' ~ dbt.type_string() ~ '))',
        type_money_exact()) -%}
    {%- if below is none -%}
    {{ amount }}
    {%- else -%}
    case when abs({{ amount }}) < {{ below }} then {{ amount }} end
    {%- endif -%}
{%- endmacro %}


{% macro money_is_number(expression) -%}
    {#-
        True when the raw amount reads as a number of any size (nan, inf
        and 1e308 included): with parse_money null, it is out of range
        (absurd_amount), not unreadable (invalid_amount).
    -#}
    ({{ parse_number(expression) }} is not null)
{%- endmacro %}


{% macro round_money(expression) -%}
    {#-
        A decimal amount rounded to the cent, half away from zero (1.005 ->
        1.01, -1.005 -> -1.01), as type_money(). Give it a decimal: a
        double is already off before it is rounded.
    -#}
    cast(round({{ expression }}, 2) as {{ type_money() }})
{%- endmacro %}


{% macro convert_money(amount, rate) -%}
    {#-
        A decimal amount (type_money_exact()) in the reporting currency:
        times `rate` (reporting-currency units per unit, applied as
        type_exchange_rate()), rounded once to the cent, half away from zero.
    -#}
    {{ round_money(
        amount ~ ' * cast(' ~ rate ~ ' as ' ~ type_exchange_rate() ~ ')') }}
{%- endmacro %}


{% macro default_currency() -%}
    {#-
        The currency of an order whose currency is not given (no currency
        column, or a null value): var default_currency, or the reporting
        currency (var reporting_currency) when it is null; upper case.
    -#}
    {%- set configured = var('default_currency', none) -%}
    {%- if configured is none
        or (configured | string | trim | lower) in ('', 'none', 'null') -%}
        {%- set configured = var('reporting_currency') -%}
    {%- endif -%}
    {%- set code = configured | string | trim | upper -%}
    {%- if not modules.re.fullmatch('[A-Z]{3}', code) -%}
        {{ exceptions.raise_compiler_error(
            "var default_currency is '" ~ configured ~ "': use the ISO 4217 "
            ~ "code of the currency your order amounts are in when orders "
            ~ "has no currency column (e.g. EUR, USD), or null for the "
            ~ "reporting currency (var reporting_currency); see "
            ~ "docs/raw_contract.md.") }}
    {%- endif -%}
    {{ return(code) }}
{%- endmacro %}


{% macro log_default_currency(table_name, raw_sql, column_name='currency') -%}
    {#-
        Logs (once, when the model compiles) which currency the amounts of
        `table_name` are read in when its raw files have no `column_name`
        column: `raw_sql` is the rendered raw_table(table_name), which reads
        an absent optional column as `cast(null as ...) as <column>` in the
        branch of each file.
    -#}
    {%- if not execute or render_only() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set absent = 'cast\\(null as [^()]*\\) as ' ~ column_name ~ '\\s*,' -%}
    {%- set files = [] -%}
    {%- set without = [] -%}
    {%- for branch in modules.re.split('\\n\\s*union all\\s*\\n', raw_sql) -%}
        {%- set file = modules.re.search(
            "'((?:[^']|'')*)' as _source_file", branch) -%}
        {%- if file -%}
            {%- set path = file.group(1) | replace("''", "'") -%}
            {%- do files.append(path) -%}
            {%- if modules.re.search(absent, branch, modules.re.IGNORECASE) -%}
                {%- do without.append(path.split('/')[-1]) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if without | length == 0 -%}
        {{ return('') }}
    {%- endif -%}
    {%- set source_var = 'var default_currency' if var('default_currency', none)
        not in (none, '', 'none', 'null') else
        'var default_currency unset: the reporting currency, var reporting_currency' -%}
    {%- if without | length == files | length -%}
        {%- set subject = table_name ~ ' has no ' ~ column_name ~ ' column' -%}
    {%- else -%}
        {%- set subject = table_name ~ ' has no ' ~ column_name ~ ' column in '
            ~ (without | length) ~ ' of ' ~ (files | length) ~ ' files ('
            ~ (without[:5] | join(', '))
            ~ (', ...' if without | length > 5 else '') ~ ')' -%}
    {%- endif -%}
    {%- do log(
        subject ~ ': amounts read as ' ~ default_currency() ~ ' ('
        ~ source_var ~ '). If they are in another currency, set var '
        ~ 'default_currency to its code; see docs/raw_contract.md.',
        info=true) -%}
    {{ return('') }}
{%- endmacro %}
