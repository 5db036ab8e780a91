{#
    Guards between staging and everything after it (stg_shop__raw_table_loads,
    docs/raw_contract.md "Guards"). The staging views depend on that model,
    so when a guard stops the build no feature, model, mart or history is
    touched; the base_ tables and int_raw_rows_quarantined are built, so
    the refused rows can be read.

    - Quarantined share: when more than var max_quarantined_share of a raw
      table's rows are quarantined (reasons in
      var quarantine_share_exempt_reasons, rows refused by design such as
      test accounts and bot traffic, do not count), the build stops with
      one message per table: rows and share, the top reasons with counts
      and what to change for each. A lower share is logged as a warning
      with the same text.
    - Volume: when orders has more than var max_row_drop_share fewer raw
      rows than at the previous build of this warehouse, or its newest
      staged order is older than then, the build stops; var
      accept_volume_change true lets one build through.
    - as_of_date: a valid date (as_of_date()), with staged orders before it,
      not after the day after the build, and at most
      var as_of_date_max_days_after_data days after the day after the last
      staged order (label windows must not end after the data does).
#}

{% macro raw_table_timestamp_columns() -%}
    {#- The timestamp that dates a row of each raw table (none: undated). -#}
    {{ return({
        'customers': 'signed_up_at',
        'orders': 'ordered_at',
        'products': none,
        'order_items': none,
        'events': 'occurred_at',
        'email_events': 'occurred_at',
        'support_tickets': 'opened_at',
        'campaign_assignments': 'assigned_at',
    }) }}
{%- endmacro %}


{% macro quarantine_share_exempt_reasons() -%}
    {%- set reasons = var('quarantine_share_exempt_reasons', []) -%}
    {%- if reasons is string or reasons is mapping -%}
        {{ exceptions.raise_compiler_error(
            "var quarantine_share_exempt_reasons must be a list of "
            ~ "quarantine reasons (e.g. [test_account, bot_traffic]); got "
            ~ reasons) }}
    {%- endif -%}
    {{ return(reasons | list) }}
{%- endmacro %}


{% macro raw_table_load_counts() -%}
    {#-
        One row per raw table: the rows of its base_ table by outcome, and
        the first and last staged timestamp (dated tables).
    -#}
    {%- set exempt = quarantine_share_exempt_reasons() -%}
    {%- for table_name, timestamp_column in raw_table_timestamp_columns().items() %}
    {%- set base = ref('base_shop__' ~ table_name) %}
    select
        '{{ table_name }}' as source_table,
        count(*) as raw_row_count,
        coalesce(sum(case when _row_status = 'staged' then 1 else 0 end), 0)
            as staged_row_count,
        coalesce(
            sum(case when _row_status = 'quarantined' then 1 else 0 end), 0
        ) as quarantined_row_count,
        coalesce(
            sum(
                case
                    when
                        _row_status = 'quarantined'
                        {%- if exempt | length > 0 %}
                        and _quarantine_reason not in (
                            {{ sql_string_list(exempt) }}
                        )
                        {%- endif %}
                        then 1
                    else 0
                end
            ),
            0
        ) as counted_quarantined_row_count,
        coalesce(
            sum(
                case when _row_status = 'collapsed_duplicate' then 1 else 0 end
            ),
            0
        ) as collapsed_duplicate_row_count,
        {%- if timestamp_column %}
        min(
            case when _row_status = 'staged' then {{ timestamp_column }} end
        ) as first_staged_at,
        max(
            case when _row_status = 'staged' then {{ timestamp_column }} end
        ) as last_staged_at
        {%- else %}
        cast(null as {{ dbt.type_timestamp() }}) as first_staged_at,
        cast(null as {{ dbt.type_timestamp() }}) as last_staged_at
        {%- endif %}
    from {{ base }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}


{% macro raw_table_quarantine_reasons() -%}
    {#-
        One row per (raw table, quarantine reason): rows, and among them
        those dated before var min_valid_date, with the earliest and latest
        such date (dated tables).
    -#}
    {%- for table_name, timestamp_column in raw_table_timestamp_columns().items() %}
    select
        '{{ table_name }}' as source_table,
        _quarantine_reason as reason,
        count(*) as row_count,
        {%- if timestamp_column %}
        {%- set early = timestamp_column ~ ' < ' ~ min_valid_timestamp() %}
        coalesce(sum(case when {{ early }} then 1 else 0 end), 0)
            as early_row_count,
        cast(
            min(case when {{ early }} then {{ timestamp_column }} end)
            as {{ dbt.type_string() }}
        ) as earliest_early_at,
        cast(
            max(case when {{ early }} then {{ timestamp_column }} end)
            as {{ dbt.type_string() }}
        ) as latest_early_at
        {%- else %}
        0 as early_row_count,
        cast(null as {{ dbt.type_string() }}) as earliest_early_at,
        cast(null as {{ dbt.type_string() }}) as latest_early_at
        {%- endif %}
    from {{ ref('base_shop__' ~ table_name) }}
    where _row_status = 'quarantined'
    group by _quarantine_reason
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}


{% macro quarantine_reason_advice(reason) -%}
    {#-
        What to change for the rows of one quarantine reason (a row of
        raw_table_quarantine_reasons()).
    -#}
    {%- set early = reason.early_row_count -%}
    {%- set late = reason.row_count - early -%}
    {%- set early_text = (format_count(early) ~ " before var min_valid_date ("
        ~ var('min_valid_date') ~ "), from " ~ reason.earliest_early_at[:10]
        ~ " to " ~ reason.latest_early_at[:10] ~ ": lower min_valid_date if "
        ~ "your history starts earlier") if early > 0 else "" -%}
    {%- set late_text = (format_count(late) ~ " after this build ("
        ~ run_started_at.strftime('%Y-%m-%d %H:%M') ~ " UTC) or on another "
        ~ "timestamp column: fix their time zone or clock") if late > 0 else "" -%}
    {%- set advice = {
        'missing_key': "a key column is empty or a null spelling (var "
            ~ "null_like_values); export the keys, or remove rows without them",
        'invalid_timestamp': "timestamps that are not dates or ISO-8601 "
            ~ "date-times; see docs/raw_contract.md, Types",
        'timestamp_out_of_range': [early_text, late_text] | select | join('; '),
        'invalid_amount': "amounts that are not numbers (a dot for decimals, "
            ~ "no currency symbol or thousands separator)",
        'absurd_amount': "amounts of var max_order_amount ("
            ~ var('max_order_amount') ~ ") or more; raise it if such orders "
            ~ "are real",
        'unknown_currency': "currency codes missing from seeds/"
            ~ "currency_rates.csv; add their rates there",
        'unknown_status': "statuses other than completed, cancelled and "
            ~ "refunded; map them in the export",
        'unknown_customer': "customer ids missing from the customers table; "
            ~ "export customers and this table together, or leave customers "
            ~ "out",
        'unknown_order': "order ids missing from orders; export orders and "
            ~ "order_items together (is orders complete?)",
        'duplicate_id_conflict': "rows that share a key with different "
            ~ "values (the latest is staged); deduplicate the export",
        'test_account': "rows of test accounts (var test_email_domains)",
        'bot_traffic': "bot traffic (var bot_user_agent_pattern)",
    } -%}
    {{ return(advice.get(reason.reason, "values outside the contract; see "
        ~ "docs/raw_contract.md, Quarantine reasons")) }}
{%- endmacro %}


{% macro format_count(value) -%}
    {{ return("{:,}".format(value | int)) }}
{%- endmacro %}


{% macro quarantine_message(table_name, counts, reasons) -%}
    {#-
        "orders: 70,000 of 70,000 rows (100.0 %) quarantined:
        timestamp_out_of_range 70,000 (timestamps before ...)", reasons by
        count, at most five.
    -#}
    {%- set parts = [] -%}
    {%- for reason in reasons | sort(attribute='row_count', reverse=true) -%}
        {%- if loop.index <= 5 -%}
            {%- do parts.append(reason.reason ~ " " ~ format_count(reason.row_count)
                ~ " (" ~ quarantine_reason_advice(reason) ~ ")") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if reasons | length > 5 -%}
        {%- do parts.append((reasons | length - 5) ~ " more reasons") -%}
    {%- endif -%}
    {%- set share = counts.quarantined_row_count / counts.raw_row_count
        if counts.raw_row_count > 0 else 0 -%}
    {{ return(table_name ~ ": " ~ format_count(counts.quarantined_row_count)
        ~ " of " ~ format_count(counts.raw_row_count) ~ " rows ("
        ~ "%.1f" | format(100 * share) ~ " %) quarantined: "
        ~ parts | join('; ')) }}
{%- endmacro %}


{% macro guard_share_var(name) -%}
    {#- A share var (0 to 1), or a message naming it. -#}
    {%- set value = var(name) -%}
    {%- set number = value | float(-1) -%}
    {%- if value is none or value is string and value | trim == ''
        or number < 0 or number > 1 -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be a share between 0 and 1 (e.g. 0.05); "
            ~ "got " ~ value) }}
    {%- endif -%}
    {{ return(number) }}
{%- endmacro %}


{% macro check_raw_table_loads(this_relation) -%}
    {#-
        Runs the guards (top of this file) on the base_ tables just built;
        stops the build with every problem found, one paragraph each.
        Returns 'passed' or 'accepted_change' (var accept_volume_change let
        a volume drop through).
    -#}
    {%- if not execute or render_only() -%}
        {{ return('passed') }}
    {%- endif -%}
    {%- set max_share = guard_share_var('max_quarantined_share') -%}
    {%- set max_drop = guard_share_var('max_row_drop_share') -%}
    {%- set exempt = quarantine_share_exempt_reasons() -%}

    {%- set counts = {} -%}
    {%- set result = run_query(raw_table_load_counts()) -%}
    {%- for row in result.rows -%}
        {%- do counts.update({row['source_table']: {
            'raw_row_count': row['raw_row_count'] | int,
            'staged_row_count': row['staged_row_count'] | int,
            'quarantined_row_count': row['quarantined_row_count'] | int,
            'counted_quarantined_row_count':
                row['counted_quarantined_row_count'] | int,
            'first_staged_at': row['first_staged_at'],
            'last_staged_at': row['last_staged_at'],
        }}) -%}
    {%- endfor -%}
    {%- set reasons = {} -%}
    {%- for row in run_query(raw_table_quarantine_reasons()).rows -%}
        {%- do reasons.setdefault(row['source_table'], []).append({
            'reason': row['reason'],
            'row_count': row['row_count'] | int,
            'early_row_count': row['early_row_count'] | int,
            'earliest_early_at': row['earliest_early_at'],
            'latest_early_at': row['latest_early_at'],
        }) -%}
    {%- endfor -%}

    {%- set errors = [] -%}
    {%- for table_name, row in counts.items() -%}
        {%- if row['quarantined_row_count'] > 0 -%}
            {%- set message = quarantine_message(
                table_name, row, reasons.get(table_name, [])) -%}
            {%- set counted_share = row['counted_quarantined_row_count']
                / row['raw_row_count'] -%}
            {%- if counted_share > max_share -%}
                {%- do errors.append(message ~ ". More than var "
                    ~ "max_quarantined_share (" ~ max_share ~ ") of the "
                    ~ "rows" ~ (" (not counting " ~ exempt | join(', ') ~ ")"
                        if exempt else "")
                    ~ " were refused, so the build stopped before any "
                    ~ "feature: the rows are in int_raw_rows_quarantined. Fix "
                    ~ "the export or the vars named above, or raise "
                    ~ "max_quarantined_share if this share is expected.") -%}
            {%- else -%}
                {{ log("Warning: " ~ message, info=true) }}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}

    {%- set orders = counts['orders'] -%}
    {%- if orders['raw_row_count'] == 0 -%}
        {%- do errors.append("orders: the raw orders hold no rows, so there "
            ~ "is nothing to predict from. Check the export (a header "
            ~ "without rows?) and SEGMENTS_RAW_DIR (" ~ raw_dir() ~ ").") -%}
    {%- endif -%}

    {%- set status = namespace(value='passed') -%}
    {%- if this_relation is not none -%}
        {%- set previous = run_query(
            "select raw_row_count, cast(last_staged_at as "
            ~ dbt.type_string() ~ ") as last_staged_at, "
            ~ "cast(built_at as " ~ dbt.type_string() ~ ") as built_at "
            ~ "from " ~ this_relation ~ " where source_table = 'orders' "
            ~ "order by built_at desc limit 1").rows -%}
        {%- if previous | length > 0 -%}
            {%- set before = previous[0] -%}
            {%- set now_last = orders['last_staged_at'] | string
                if orders['last_staged_at'] is not none else none -%}
            {%- set problems = [] -%}
            {%- set before_rows = before['raw_row_count'] | int -%}
            {%- if before_rows > 0 and orders['raw_row_count']
                < (1 - max_drop) * before_rows -%}
                {%- do problems.append("orders has "
                    ~ format_count(orders['raw_row_count']) ~ " raw rows, "
                    ~ "%.1f" | format(100 * (1 - orders['raw_row_count']
                        / before_rows))
                    ~ " % fewer than the " ~ format_count(before_rows)
                    ~ " of the previous build (" ~ before['built_at'][:19]
                    ~ "); more than var max_row_drop_share ("
                    ~ max_drop ~ ")") -%}
            {%- endif -%}
            {%- if before['last_staged_at'] is not none and (now_last is none
                or now_last[:19] < before['last_staged_at'][:19]) -%}
                {%- do problems.append("the newest order is "
                    ~ (now_last[:19] if now_last else "none") ~ ", older than "
                    ~ before['last_staged_at'][:19] ~ " at the previous "
                    ~ "build") -%}
            {%- endif -%}
            {%- if problems and var('accept_volume_change', false) -%}
                {{ log("Warning: " ~ problems | join('; ')
                    ~ " (accepted: var accept_volume_change is true).",
                    info=true) }}
                {%- set status.value = 'accepted_change' -%}
            {%- elif problems -%}
                {%- do errors.append(problems | join('; ') ~ ". A partial "
                    ~ "export would retrain the models and rewrite the "
                    ~ "history on part of the data, so the build stopped "
                    ~ "before any feature. Check that " ~ raw_dir()
                    ~ " holds the whole export; if the change is intended "
                    ~ "(data deleted on purpose, another shop), build once "
                    ~ "with --vars '{accept_volume_change: true}'.") -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}

    {%- if orders['staged_row_count'] > 0 -%}
        {%- do errors.extend(as_of_date_problems(
            orders['first_staged_at'], orders['last_staged_at'])) -%}
    {%- endif -%}

    {%- if errors -%}
        {{ exceptions.raise_compiler_error(
            "The raw data did not pass the checks before features "
            ~ "(stg_shop__raw_table_loads):\n- " ~ errors | join("\n- ")) }}
    {%- endif -%}
    {{ return(status.value) }}
{%- endmacro %}


{% macro as_of_date_problems(first_order_at, last_order_at) -%}
    {#-
        Messages on var as_of_date given the first and last staged order
        timestamps; [] when it is unset or valid. The default, the day after
        the last staged order, is always valid: staged orders are not after
        the build's start (timestamp_in_range), so it is at most the day
        after the build, which is not "in the future" here either (a build
        today uses today's orders).
    -#}
    {%- set configured = var('as_of_date', none) -%}
    {%- if not configured -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set as_of = modules.datetime.datetime.strptime(as_of_date(), '%Y-%m-%d') -%}
    {%- set first_day = modules.datetime.datetime.strptime(
        (first_order_at | string)[:10], '%Y-%m-%d') -%}
    {%- set last_day = modules.datetime.datetime.strptime(
        (last_order_at | string)[:10], '%Y-%m-%d') -%}
    {%- set build_day = modules.datetime.datetime.strptime(
        run_started_at.strftime('%Y-%m-%d'), '%Y-%m-%d') -%}
    {%- set one_day = modules.datetime.timedelta(days=1) -%}
    {%- set slack = var('as_of_date_max_days_after_data', 7) | int -%}
    {%- set latest = last_day + one_day + modules.datetime.timedelta(days=slack) -%}
    {%- set allowed = "Use a date from " ~ (first_day + one_day).strftime('%Y-%m-%d')
        ~ " to " ~ ([latest, build_day + one_day] | min).strftime('%Y-%m-%d')
        ~ ", or leave as_of_date unset (default: the day after the last "
        ~ "order, " ~ (last_day + one_day).strftime('%Y-%m-%d') ~ ")." -%}
    {%- set problems = [] -%}
    {%- if as_of > build_day + one_day -%}
        {%- do problems.append("var as_of_date " ~ as_of_date() ~ " is in the "
            ~ "future (this build runs on " ~ build_day.strftime('%Y-%m-%d')
            ~ "): its prediction windows have not happened. " ~ allowed) -%}
    {%- elif as_of > latest -%}
        {%- do problems.append("var as_of_date " ~ as_of_date() ~ " is "
            ~ (as_of - last_day - one_day).days ~ " days after the data ends "
            ~ "(last order " ~ last_day.strftime('%Y-%m-%d') ~ "; var "
            ~ "as_of_date_max_days_after_data allows " ~ slack ~ "): the "
            ~ "label windows that train and check the models would end after "
            ~ "the data does, and every customer would look lost. " ~ allowed) -%}
    {%- endif -%}
    {%- if as_of <= first_day -%}
        {%- do problems.append("var as_of_date " ~ as_of_date() ~ " is on or "
            ~ "before the first order (" ~ first_day.strftime('%Y-%m-%d')
            ~ "): there is no history before it to learn from. " ~ allowed) -%}
    {%- endif -%}
    {{ return(problems) }}
{%- endmacro %}
