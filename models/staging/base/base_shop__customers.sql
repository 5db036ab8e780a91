with

raw_rows as (
    {{ raw_table('customers') }}
),

{{ keyed_source_ctes('raw_rows', ['customer_id']) }},

parsed as (
    select
        {{ clean_id('source.customer_id') }} as customer_id,
        upper({{ clean_code('source.country') }}) as country_code,
        {{ clean_code('source.acquisition_channel') }} as acquisition_channel,
        {{ clean_code('source.gender') }} as gender,
        {{ clean_code('source.email_domain') }} as email_domain,
        {{ parse_integer('source.birth_year') }} as birth_year,
        {{ parse_utc_timestamp('source.signed_up_at') }} as signed_up_at,
        source.signed_up_at is not null as _has_raw_signed_up_at,
        source.birth_year is not null as _has_raw_birth_year,
        {{ row_hash([
            'source.customer_id', 'source.signed_up_at', 'source.country',
            'source.acquisition_channel', 'source.birth_year',
            'source.gender', 'source.email_domain']) }} as _row_hash,
        {{ raw_record([
            'source.customer_id', 'source.signed_up_at', 'source.country',
            'source.acquisition_channel', 'source.birth_year',
            'source.gender', 'source.email_domain']) }} as _raw_record,
        source._has_duplicated_key
    from source
),

checked as {{ cte_not_materialized() }} (
    select
        parsed.*,
        coalesce(
            parsed.email_domain in (
                {{ sql_string_list(var('test_email_domains')) }}
            ),
            false
        ) as is_test_account,
        {{ first_reason([
            ('parsed.customer_id is null', 'missing_key'),
            ('parsed._has_raw_signed_up_at and parsed.signed_up_at is null',
                'invalid_timestamp'),
            ('parsed.signed_up_at is not null and not '
                ~ timestamp_in_range('parsed.signed_up_at'),
                'timestamp_out_of_range'),
            ('parsed._has_raw_birth_year and (parsed.birth_year is null '
                ~ 'or parsed.birth_year < 1900 or parsed.birth_year > '
                ~ run_started_at.year ~ ')', 'invalid_birth_year'),
        ]) }} as _row_reason
    from parsed
),

classified as (
    {{ classify_raw_rows('checked', ['customer_id'], 'signed_up_at') }}
)

select * from classified
