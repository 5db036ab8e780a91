{#
    Staging's bookkeeping, shared by every base_ model: each raw row ends in
    exactly one of three states, so that for every table
        raw rows = staged rows + quarantined rows + collapsed duplicates.

    first_reason(checks) renders the reason of the first failing check, in the
    order given (one reason per row), or null for a valid row.

    keyed_source_ctes(raw_relation, key_columns) defines the CTEs
    `duplicated_keys` and `source`: the raw rows with _has_duplicated_key
    (does another raw row have the same cleaned key?). The model's parsing
    reads `source` and carries _has_duplicated_key through to
    classify_raw_rows.

    classify_raw_rows(relation, key_columns, recency_column) reads a CTE with
    columns _row_hash, _row_reason and _has_duplicated_key and adds:
      _row_status        'staged', 'quarantined' or 'collapsed_duplicate'
      _quarantine_reason the reason, for quarantined rows
    Rules: exact duplicates (same key and same _row_hash) are kept once; among valid rows
    sharing a key, the one with the latest recency_column (then the greatest
    _row_hash) is staged and the others are quarantined as
    'duplicate_id_conflict'.
#}

{% macro first_reason(checks) -%}
    case
    {%- for condition, reason in checks %}
        when {{ condition }} then '{{ reason }}'
    {%- endfor %}
    end
{%- endmacro %}


{% macro classify_raw_rows(relation, key_columns, recency_column, tracks_source_file=false) -%}
    {#-
        Cost: ranking every row by its key needs a sort of the whole table
        (two window functions over millions of event rows took most of
        staging's time). Only rows whose key occurs more than once can be a
        duplicate or a conflict (_has_duplicated_key, keyed_source_ctes), so
        only their rows are ranked; every other row is its key's first copy
        (_copy_number 1, _key_rank 1). Keys compare with `is not distinct
        from`: rows with a null key rank among themselves, as before.
        Ties are broken so that the ranks never depend on the order rows are
        read in: exact copies by the file they came from (tracks_source_file:
        the relation has _source_file), equal rows by their copy number.
        `relation` is read twice: the caller defines it with
        cte_not_materialized(), so that it streams instead of being held
        whole, and the filter on _has_duplicated_key reaches the raw rows
        before they are parsed.
    -#}
    {%- set keys = key_columns | join(', ') -%}
    with

    single_rows as (
        select
            {{ relation }}.* exclude (_has_duplicated_key),
            1 as _copy_number,
            1 as _key_rank
        from {{ relation }}
        where not {{ relation }}._has_duplicated_key
    ),

    duplicated_rows as (
        select
            numbered.*,
            row_number() over (
                partition by {{ keys }}
                order by
                    case
                        when
                            numbered._copy_number = 1
                            and numbered._row_reason is null
                            then 0
                        else 1
                    end,
                    numbered.{{ recency_column }} desc nulls last,
                    numbered._row_hash desc,
                    numbered._copy_number
            ) as _key_rank
        from (
            select
                {{ relation }}.* exclude (_has_duplicated_key),
                row_number() over (
                    partition by
                        {%- for column in key_columns %}
                        {{ relation }}.{{ column }},
                        {%- endfor %}
                        {{ relation }}._row_hash
                    order by
                        {{ relation }}._row_hash
                        {%- if tracks_source_file %},
                        {{ relation }}._source_file
                        {%- endif %}
                ) as _copy_number
            from {{ relation }}
            where {{ relation }}._has_duplicated_key
        ) as numbered
    ),

    ranked as (
        select * from single_rows
        union all by name
        select * from duplicated_rows
    )

    select
        {{ star_except('ranked', ['_raw_record']) }},
        case
            when ranked._copy_number > 1 then 'collapsed_duplicate'
            when ranked._row_reason is not null then 'quarantined'
            when ranked._key_rank > 1 then 'quarantined'
            else 'staged'
        end as _row_status,
        case
            when ranked._copy_number > 1 then null
            when ranked._row_reason is not null then ranked._row_reason
            when ranked._key_rank > 1 then 'duplicate_id_conflict'
        end as _quarantine_reason,
        {#- The raw record is kept (and rendered) for quarantined rows only. -#}
        case
            when ranked._copy_number = 1
                and (ranked._row_reason is not null or ranked._key_rank > 1)
                then {{ raw_record_text('ranked._raw_record') }}
        end as _raw_record
    from ranked
{%- endmacro %}


{% macro keyed_source_ctes(raw_relation, key_columns) -%}
    {#-
        The CTEs `duplicated_keys` (hashes of the cleaned keys that occur
        more than once in raw_relation) and `source` (raw_relation's rows
        with _has_duplicated_key). key_columns: the model's key columns,
        each the clean_id() of the raw column of the same name.

        Finding the keys before parsing lets classify_raw_rows parse the
        few rows with a duplicated key apart from the others, instead of
        parsing every row once more to find them (base_shop__events at 100k
        demo customers: 31 s -> 21 s of CPU, the same rows). Keys are
        compared by a 64-bit hash of the cleaned values: two different keys
        with the same hash are both ranked, each in its own partition, and
        stay first copies (_copy_number 1, _key_rank 1), as unflagged rows.
    -#}
    duplicated_keys as {{ cte_materialized() }} (
        select {{ cleaned_key_hash(raw_relation, key_columns) }} as _key_hash
        from {{ raw_relation }}
        group by 1
        having count(*) > 1
    ),

    source as {{ cte_not_materialized() }} (
        select
            {{ raw_relation }}.*,
            duplicated_keys._key_hash is not null as _has_duplicated_key
        from {{ raw_relation }}
        left join duplicated_keys
            on
                {{ cleaned_key_hash(raw_relation, key_columns) }}
                = duplicated_keys._key_hash
    )
{%- endmacro %}


{% macro cleaned_key_hash(relation, key_columns) -%}
    {%- set cleaned = [] -%}
    {%- for column in key_columns -%}
        {%- do cleaned.append(clean_id(relation ~ '.' ~ column)) -%}
    {%- endfor -%}
    {{ row_hash(cleaned) }}
{%- endmacro %}


{% macro cte_materialized() -%}
    {{ return(adapter.dispatch('cte_materialized', 'predictive_segments')()) }}
{%- endmacro %}

{% macro default__cte_materialized() -%}
{%- endmacro %}

{% macro duckdb__cte_materialized() -%}
    {#- Computed once although every reader of `source` joins it. -#}
    materialized
{%- endmacro %}


{% macro cte_not_materialized() -%}
    {{ return(adapter.dispatch('cte_not_materialized', 'predictive_segments')()) }}
{%- endmacro %}

{% macro default__cte_not_materialized() -%}
{%- endmacro %}

{% macro duckdb__cte_not_materialized() -%}
    {#-
        DuckDB holds a CTE that is read more than once as a materialized
        table: for the raw event rows of a base_ model (with their raw
        record), memory and spill to disk of several times the raw data
        (100k demo customers, memory_limit 1GB: 6.9 GiB spilled, 39 s;
        not materialized: 0.3 GiB, 22 s, the same rows). Not materialized,
        each reader streams the CTE again from the raw files, keeping only
        the columns it needs.
    -#}
    not materialized
{%- endmacro %}


{% macro staged_customers_ctes() -%}
    {#-
        The CTEs `customers` (staged customers with is_test_account) and
        `customer_table` (is_present: does the project have a customers
        table?) behind the customer checks of the base_ models.
    -#}
    customers as (
        select
            customer_id,
            is_test_account
        from {{ ref('base_shop__customers') }}
        where _row_status = 'staged'
    ),

    customer_table as (
        select count(*) > 0 as is_present from customers
    )
{%- endmacro %}


{% macro customer_checks(relation, check_unknown=true) -%}
    {#-
        The (condition, reason) checks on a row's customer_id, after joining
        `customers` and `customer_table` (staged_customers_ctes()): unknown
        customers, only when the project has a customers table, and test
        accounts.
    -#}
    {%- set checks = [] -%}
    {%- if check_unknown -%}
        {%- do checks.append((
            'customer_table.is_present and customers.customer_id is null '
            ~ 'and ' ~ relation ~ '.customer_id is not null',
            'unknown_customer')) -%}
    {%- endif -%}
    {%- do checks.append(('customers.is_test_account', 'test_account')) -%}
    {{ return(checks) }}
{%- endmacro %}
