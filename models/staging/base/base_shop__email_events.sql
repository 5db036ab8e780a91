{#-
    Incremental: a build reads only the raw files of email_events it has not
    read before (macros/staging/incremental_raw_load.sql); the rows equal a full
    rebuild's.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key='_row_key',
    on_schema_change='fail',
) }}

{%- set load = incremental_raw_load(
    'email_events', 'email_event_id', raw_recheck_keys(
        ['occurred_at'], check_unknown=true)) -%}

with

raw_rows as (
    {{ load.source }}
),

{{ keyed_source_ctes('raw_rows', ['email_event_id']) }},

{{ staged_customers_ctes() }},

accepted_event_types as (
    select event_type
    from {{ ref('accepted_event_types') }}
    where source_table = 'email_events'
),

parsed as (
    select
        {{ clean_id('source.email_event_id') }} as email_event_id,
        {{ raw_row_key('source.email_event_id') }} as _row_key,
        {{ clean_id('source.customer_id') }} as customer_id,
        {{ clean_id('source.email_campaign_id') }} as email_campaign_id,
        {{ clean_code('source.event_type') }} as event_type,
        {{ parse_utc_timestamp('source.occurred_at') }} as occurred_at,
        {{ row_hash([
            'source.email_event_id', 'source.customer_id',
            'source.email_campaign_id', 'source.event_type',
            'source.occurred_at']) }} as _row_hash,
        {{ raw_record([
            'source.email_event_id', 'source.customer_id',
            'source.email_campaign_id', 'source.event_type',
            'source.occurred_at']) }} as _raw_record,
        source._source_file,
        source._source_version,
        source._has_duplicated_key
    from source
),

checked as {{ cte_not_materialized() }} (
    select
        parsed.*,
        {{ first_reason([
            ('parsed.email_event_id is null or parsed.customer_id is null',
                'missing_key'),
            ('parsed.occurred_at is null', 'invalid_timestamp'),
            ('not ' ~ timestamp_in_range('parsed.occurred_at'),
                'timestamp_out_of_range'),
            ('accepted_event_types.event_type is null', 'unknown_event_type'),
        ] + customer_checks('parsed')) }} as _row_reason
    from parsed
    cross join customer_table
    left join accepted_event_types
        on parsed.event_type = accepted_event_types.event_type
    left join customers
        on parsed.customer_id = customers.customer_id
),

classified as (
    {{ classify_raw_rows(
        'checked', ['email_event_id'], 'occurred_at', tracks_source_file=true) }}
),

final as (
    {{ incremental_raw_rows('classified', load.reload) }}
)

select * from final
