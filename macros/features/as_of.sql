{#
    Time: everything is computed as of one date (var 'as_of_date'). Features
    use rows strictly before a cutoff; labels use the window that starts on
    it. Training rows use earlier cutoffs, so that their label windows end on
    or before as_of_date and nothing after it is ever read.
#}

{% macro as_of_date() -%}
    {#-
        The as-of date as 'YYYY-MM-DD'. Default: the day after the last
        staged order date, so that features (rows strictly before it) use
        every order known, the last day's included. Read from the staged
        rows of base_shop__orders (not the staging view, which waits for the
        guards of stg_shop__raw_table_loads, which check this date).
    -#}
    {%- set configured = var('as_of_date', none) -%}
    {%- if configured -%}
        {{ return(valid_date_var('as_of_date', configured)) }}
    {%- endif -%}
    {%- set orders = ref('base_shop__orders') -%}
    {%- if not execute or render_only() -%}
        {{ return('1970-01-01') }}
    {%- endif -%}
    {%- set result = run_query(
        'select cast(max(cast(ordered_at as date)) as ' ~ dbt.type_string()
        ~ ") from " ~ orders ~ " where _row_status = 'staged'") -%}
    {%- set last_order_date = result.columns[0].values()[0] -%}
    {%- if last_order_date is none -%}
        {{ exceptions.raise_compiler_error(
            "No valid orders were staged, so there is no default as_of_date. "
            ~ "Check int_raw_rows_quarantined for why the orders were "
            ~ "refused, or pass --vars '{as_of_date: YYYY-MM-DD}'.") }}
    {%- endif -%}
    {{ return(shift_date(last_order_date, 1)) }}
{%- endmacro %}


{% macro valid_date_var(name, value) -%}
    {#-
        The date var `name` as 'YYYY-MM-DD', or a message that names it: a
        typo must not surface as a parser error blamed on some model.
    -#}
    {%- set text = value | string | trim -%}
    {%- set match = modules.re.match('^(\\d{4})-(\\d{2})-(\\d{2})$', text) -%}
    {%- set valid = namespace(value=false) -%}
    {%- if match -%}
        {%- set year = match.group(1) | int -%}
        {%- set month = match.group(2) | int -%}
        {%- set day = match.group(3) | int -%}
        {%- if 1 <= year <= 9998 and 1 <= month <= 12 and day >= 1 -%}
            {%- set next_month = modules.datetime.date(
                year + (month // 12), month % 12 + 1, 1) -%}
            {%- set last_day = (next_month - modules.datetime.timedelta(days=1)).day -%}
            {%- set valid.value = day <= last_day -%}
        {%- endif -%}
    {%- endif -%}
    {%- if not valid.value -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be a date written YYYY-MM-DD (e.g. "
            ~ "--vars '{" ~ name ~ ": 2026-09-30}'); got " ~ value ~ ".") }}
    {%- endif -%}
    {{ return(text) }}
{%- endmacro %}


{% macro shift_date(date_string, days) -%}
    {#- 'YYYY-MM-DD' plus a number of days (negative to go back). -#}
    {%- set parsed = modules.datetime.datetime.strptime(date_string, '%Y-%m-%d') -%}
    {{ return((parsed + modules.datetime.timedelta(days=days | int)).strftime('%Y-%m-%d')) }}
{%- endmacro %}


{% macro label_windows() -%}
    {#-
        {label: (window_days, number of consecutive past windows)}. The most
        recent window (ending on as_of_date) validates and calibrates a model;
        older ones train it. CLV has one: two years of history rarely hold two
        full horizons. Prospects have one, of prospect_window_days() (none
        when that is 0).
    -#}
    {%- set prospect_days = prospect_window_days() -%}
    {{ return({
        'purchase': (var('propensity_window_days') | int,
                     var('training_windows') | int),
        'churn': (var('churn_window_days') | int, var('training_windows') | int),
        'clv': (var('clv_horizon_days') | int, 1),
        'prospects': (prospect_days, 1 if prospect_days > 0 else 0),
    }) }}
{%- endmacro %}


{% macro prospect_window_days() -%}
    {#-
        The window of the prospect examples (ml_prospect_examples), as the
        short-history ladder backtests BG/NBD
        (predictive_segments.ladder.backtest_window): the longer of
        propensity_window_days and clv_horizon_days, at most half the days
        from the first purchase to as_of_date; 0 when that is less than 14
        days or nothing was bought. With a long history it is
        clv_horizon_days, whose cutoff the CLV examples already use. Read
        from the staged rows of base_shop__orders, as as_of_date().
    -#}
    {%- set orders = ref('base_shop__orders') -%}
    {%- set as_of = as_of_date() -%}
    {%- if not execute or render_only() -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set longest = [var('propensity_window_days') | int,
                       var('clv_horizon_days') | int] | max -%}
    {%- set result = run_query(
        'select cast(min(cast(ordered_at as date)) as ' ~ dbt.type_string()
        ~ ') from ' ~ orders ~ " where _row_status = 'staged'"
        ~ " and order_status not in ('cancelled', 'refunded')"
        ~ ' and _amount_decimal > 0 and ordered_at < cast(' ~ "'" ~ as_of
        ~ "' as " ~ dbt.type_timestamp() ~ ')') -%}
    {%- set first_purchase = result.columns[0].values()[0] -%}
    {%- if first_purchase is none -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set span = (
        modules.datetime.datetime.strptime(as_of, '%Y-%m-%d')
        - modules.datetime.datetime.strptime(first_purchase, '%Y-%m-%d')
    ).days -%}
    {%- set days = [longest, span // 2] | min -%}
    {{ return(days if days >= 14 else 0) }}
{%- endmacro %}


{% macro retrains() -%}
    {#-
        Does this build train models (var retrain)? When it does not, there
        are no training cutoffs and no campaign cutoffs: features are built
        at as_of_date only, which is all the score models read.
    -#}
    {{ return(var('retrain', true) | string | lower not in ['false', '0', 'no']) }}
{%- endmacro %}


{% macro training_cutoffs() -%}
    {#-
        {label: [cutoff dates, most recent first]}: the label windows start on
        these cutoffs and the most recent ends on as_of_date. Empty lists
        when the build does not retrain (retrains()).
    -#}
    {%- set as_of = as_of_date() -%}
    {%- set cutoffs = {} -%}
    {%- for label, (window_days, count) in label_windows().items() -%}
        {%- set dates = [] -%}
        {%- for index in range(1 if retrains() else count + 1, count + 1) -%}
            {%- do dates.append(shift_date(as_of, -(window_days * index))) -%}
        {%- endfor -%}
        {%- do cutoffs.update({label: dates}) -%}
    {%- endfor -%}
    {{ return(cutoffs) }}
{%- endmacro %}


{% macro all_training_cutoffs() -%}
    {#- Every distinct training cutoff, in date order. -#}
    {%- set dates = [] -%}
    {%- for label_dates in training_cutoffs().values() -%}
        {%- for cutoff in label_dates -%}
            {%- if cutoff not in dates -%}{%- do dates.append(cutoff) -%}{%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(dates | sort) }}
{%- endmacro %}


{% macro feature_cutoffs() -%}
    {#-
        Every date features are computed at: as_of_date, the training cutoffs
        and the campaign assignment dates (campaign_cutoffs()).
    -#}
    {%- set dates = all_training_cutoffs() -%}
    {%- for cutoff in [as_of_date()] + campaign_cutoffs() -%}
        {%- if cutoff not in dates -%}{%- do dates.append(cutoff) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(dates | sort) }}
{%- endmacro %}


{% macro date_literal(date_string) -%}
    cast({{ sql_string(date_string) }} as date)
{%- endmacro %}


{% macro cutoffs_relation(dates) -%}
    {#- A relation with one row per cutoff: cutoff_date, cutoff_at. -#}
    {%- if dates | length == 0 %}
    select
        cast(null as date) as cutoff_date,
        cast(null as {{ dbt.type_timestamp() }}) as cutoff_at
    where 1 = 0
    {%- endif %}
    {%- for date_string in dates %}
    select
        {{ date_literal(date_string) }} as cutoff_date,
        cast('{{ date_string }}' as {{ dbt.type_timestamp() }}) as cutoff_at
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}


{% macro uplift_window_ended(assigned_at) -%}
    {#-
        True when the outcome window (var uplift_window_days) of an
        assignment at `assigned_at` ended by as_of_date 00:00, so that its
        outcome reads no order on or after as_of_date.
    -#}
    ({{ dbt.dateadd('day', var('uplift_window_days') | int, assigned_at) }}
        <= cast('{{ as_of_date() }}' as {{ dbt.type_timestamp() }}))
{%- endmacro %}


{% macro campaign_cutoffs() -%}
    {#-
        Assignment dates of the randomized campaigns whose outcome window
        (var uplift_window_days) ended by as_of_date (uplift_window_ended()),
        newest first, at most var uplift_max_campaigns of them: the uplift
        models train on features as of these dates. None when the build
        does not retrain (retrains()).
    -#}
    {%- set assignments = ref('stg_shop__campaign_assignments') -%}
    {#- Called before any early return so that their ref()s are always seen. -#}
    {%- do as_of_date() -%}
    {%- if not execute or render_only() or not retrains() -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set result = run_query(
        "select distinct cast(cast(assigned_at as date) as varchar) as d from "
        ~ assignments ~ " where " ~ uplift_window_ended('assigned_at')
        ~ " order by d desc limit " ~ (var('uplift_max_campaigns') | int)) -%}
    {{ return(result.columns[0].values() | list | sort) }}
{%- endmacro %}
