with

raw_rows as (
    {{ raw_table('support_tickets') }}
),

{{ keyed_source_ctes('raw_rows', ['ticket_id']) }},

{{ staged_customers_ctes() }},

parsed as (
    select
        {{ clean_id('source.ticket_id') }} as ticket_id,
        {{ clean_id('source.customer_id') }} as customer_id,
        {{ clean_code('source.topic') }} as topic,
        {{ parse_integer('source.csat_score') }} as csat_score,
        source.csat_score is not null as _has_raw_csat_score,
        {{ parse_utc_timestamp('source.opened_at') }} as opened_at,
        {{ parse_utc_timestamp('source.closed_at') }} as closed_at,
        source.closed_at is not null as _has_raw_closed_at,
        {{ row_hash([
            'source.ticket_id', 'source.customer_id', 'source.topic',
            'source.opened_at', 'source.closed_at',
            'source.csat_score']) }} as _row_hash,
        {{ raw_record([
            'source.ticket_id', 'source.customer_id', 'source.topic',
            'source.opened_at', 'source.closed_at',
            'source.csat_score']) }} as _raw_record,
        source._has_duplicated_key
    from source
),

checked as {{ cte_not_materialized() }} (
    select
        parsed.*,
        {{ first_reason([
            ('parsed.ticket_id is null or parsed.customer_id is null',
                'missing_key'),
            ('parsed.opened_at is null', 'invalid_timestamp'),
            ('parsed._has_raw_closed_at and parsed.closed_at is null',
                'invalid_timestamp'),
            ('not ' ~ timestamp_in_range('parsed.opened_at'),
                'timestamp_out_of_range'),
            ('parsed.closed_at is not null and not '
                ~ timestamp_in_range('parsed.closed_at'),
                'timestamp_out_of_range'),
            ('parsed.closed_at < parsed.opened_at', 'timestamp_out_of_range'),
            ('parsed._has_raw_csat_score and (parsed.csat_score is null '
                ~ 'or parsed.csat_score not between 1 and 5)',
                'invalid_csat_score'),
        ] + customer_checks('parsed')) }} as _row_reason
    from parsed
    cross join customer_table
    left join customers
        on parsed.customer_id = customers.customer_id
),

classified as (
    {{ classify_raw_rows('checked', ['ticket_id'], 'opened_at') }}
)

select * from classified
