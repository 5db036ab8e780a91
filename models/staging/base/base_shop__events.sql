{#-
    Incremental: a build reads only the raw files of events it has not read
    before (macros/staging/incremental_raw_load.sql); the rows equal a full
    rebuild's.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key='_row_key',
    on_schema_change='fail',
) }}

{%- set load = incremental_raw_load(
    'events', 'event_id', raw_recheck_keys(
        ['occurred_at', '_received_at'], check_unknown=false)) -%}

with

raw_rows as (
    {{ load.source }}
),

{{ keyed_source_ctes('raw_rows', ['event_id']) }},

{{ staged_customers_ctes() }},

accepted_event_types as (
    select event_type
    from {{ ref('accepted_event_types') }}
    where source_table = 'events'
),

parsed as {{ cte_not_materialized() }} (
    select
        {{ clean_id('source.event_id') }} as event_id,
        {{ raw_row_key('source.event_id') }} as _row_key,
        {{ clean_id('source.session_id') }} as session_id,
        {{ clean_id('source.customer_id') }} as customer_id,
        {{ clean_code('source.event_type') }} as event_type,
        {{ clean_code('source.category') }} as category,
        {{ clean_code('source.device') }} as device,
        cast(source.user_agent as {{ dbt.type_string() }}) as user_agent,
        {{ parse_utc_timestamp('source.occurred_at') }} as occurred_at,
        {{ parse_utc_timestamp('source.received_at') }} as _received_at,
        source.received_at is not null as _has_raw_received_at,
        {{ row_hash([
            'source.event_id', 'source.session_id', 'source.customer_id',
            'source.event_type', 'source.category', 'source.device',
            'source.user_agent', 'source.occurred_at',
            'source.received_at']) }} as _row_hash,
        {{ raw_record([
            'source.event_id', 'source.session_id', 'source.customer_id',
            'source.event_type', 'source.category', 'source.device',
            'source.user_agent', 'source.occurred_at',
            'source.received_at']) }} as _raw_record,
        source._source_file,
        source._source_version,
        source._has_duplicated_key
    from source
),

bot_user_agents as (
    {#- From the raw rows: the same values as parsed.user_agent. -#}
    {{ matches_in_distinct_values(
        'raw_rows',
        "coalesce(cast(raw_rows.user_agent as " ~ dbt.type_string() ~ "), '')",
        var('bot_user_agent_pattern')) }}
),

checked as {{ cte_not_materialized() }} (
    select
        parsed.*,
        {{ first_reason([
            ('parsed.event_id is null or parsed.session_id is null',
                'missing_key'),
            ('parsed.occurred_at is null', 'invalid_timestamp'),
            ('parsed._has_raw_received_at and parsed._received_at is null',
                'invalid_timestamp'),
            ('not ' ~ timestamp_in_range('parsed.occurred_at'),
                'timestamp_out_of_range'),
            ('parsed._received_at is not null and not '
                ~ timestamp_in_range('parsed._received_at'),
                'timestamp_out_of_range'),
            ('accepted_event_types.event_type is null', 'unknown_event_type'),
            ('bot_user_agents.is_match', 'bot_traffic'),
        ] + customer_checks('parsed', check_unknown=false)) }} as _row_reason
    from parsed
    left join accepted_event_types
        on parsed.event_type = accepted_event_types.event_type
    left join customers
        on parsed.customer_id = customers.customer_id
    left join bot_user_agents
        on coalesce(parsed.user_agent, '') = bot_user_agents.matched_value
),

classified as (
    {{ classify_raw_rows(
        'checked', ['event_id'], 'occurred_at', tracks_source_file=true) }}
),

final as (
    {{ incremental_raw_rows('classified', load.reload) }}
)

select * from final
