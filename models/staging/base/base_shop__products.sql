with

raw_rows as (
    {{ raw_table('products') }}
),

{{ keyed_source_ctes('raw_rows', ['product_id']) }},

parsed as (
    select
        {{ clean_id('source.product_id') }} as product_id,
        {{ clean_code('source.category') }} as category,
        {{ clean_code('source.price_tier') }} as price_tier,
        {{ parse_number('source.margin_rate') }} as margin_rate,
        source.margin_rate is not null as _has_raw_margin_rate,
        {{ row_hash([
            'source.product_id', 'source.category', 'source.price_tier',
            'source.margin_rate']) }} as _row_hash,
        {{ raw_record([
            'source.product_id', 'source.category', 'source.price_tier',
            'source.margin_rate']) }} as _raw_record,
        source._has_duplicated_key
    from source
),

checked as {{ cte_not_materialized() }} (
    select
        parsed.*,
        {{ first_reason([
            ('parsed.product_id is null', 'missing_key'),
            ("coalesce(parsed.price_tier, 'standard') not in "
                ~ "('budget', 'standard', 'premium')", 'unknown_price_tier'),
            ('parsed._has_raw_margin_rate and (parsed.margin_rate is null '
                ~ 'or parsed.margin_rate < 0 or parsed.margin_rate > 1)',
                'invalid_margin_rate'),
        ]) }} as _row_reason
    from parsed
),

classified as (
    {{ classify_raw_rows('checked', ['product_id'], 'product_id') }}
)

select * from classified
