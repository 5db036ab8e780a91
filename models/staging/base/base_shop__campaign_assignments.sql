with

raw_rows as (
    {{ raw_table('campaign_assignments') }}
),

{{ keyed_source_ctes('raw_rows', ['campaign_id', 'customer_id']) }},

{{ staged_customers_ctes() }},

parsed as (
    select
        {{ clean_id('source.campaign_id') }} as campaign_id,
        {{ clean_id('source.customer_id') }} as customer_id,
        {{ clean_code('source.treatment_group') }} as treatment_group,
        {{ parse_utc_timestamp('source.assigned_at') }} as assigned_at,
        {{ row_hash([
            'source.campaign_id', 'source.customer_id', 'source.assigned_at',
            'source.treatment_group']) }} as _row_hash,
        {{ raw_record([
            'source.campaign_id', 'source.customer_id', 'source.assigned_at',
            'source.treatment_group']) }} as _raw_record,
        source._has_duplicated_key
    from source
),

checked as {{ cte_not_materialized() }} (
    select
        parsed.*,
        {{ first_reason([
            ('parsed.campaign_id is null or parsed.customer_id is null',
                'missing_key'),
            ('parsed.assigned_at is null', 'invalid_timestamp'),
            ('not ' ~ timestamp_in_range('parsed.assigned_at'),
                'timestamp_out_of_range'),
            ("coalesce(parsed.treatment_group, '') not in "
                ~ "('treatment', 'control')", 'unknown_treatment_group'),
        ] + customer_checks('parsed')) }} as _row_reason
    from parsed
    cross join customer_table
    left join customers
        on parsed.customer_id = customers.customer_id
),

classified as (
    {{ classify_raw_rows(
        'checked', ['campaign_id', 'customer_id'], 'assigned_at') }}
)

select * from classified
