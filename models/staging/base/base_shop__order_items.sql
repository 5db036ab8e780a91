with

source as (
    {{ raw_table('order_items') }}
),

parsed as (
    select
        {{ clean_id('source.order_item_id') }} as order_item_id,
        {{ clean_id('source.order_id') }} as order_id,
        {{ clean_id('source.product_id') }} as product_id,
        coalesce({{ parse_number('source.quantity') }}, 1) as quantity,
        {{ parse_number('source.unit_price') }} as _unit_price_number,
        source.unit_price is not null as _has_raw_unit_price,
        {{ row_hash([
            'source.order_item_id', 'source.order_id', 'source.product_id',
            'source.quantity', 'source.unit_price']) }} as _row_hash,
        {{ raw_record([
            'source.order_item_id', 'source.order_id', 'source.product_id',
            'source.quantity', 'source.unit_price']) }} as _raw_record
    from source
),

checked as (
    select
        parsed.*,
        {{ first_reason([
            ('parsed.order_item_id is null or parsed.order_id is null '
                ~ 'or parsed.product_id is null', 'missing_key'),
            ('parsed._has_raw_unit_price and parsed._unit_price_number is null',
                'invalid_amount'),
            ('abs(parsed._unit_price_number * parsed.quantity) >= '
                ~ var('max_order_amount'), 'absurd_amount'),
        ]) }} as _row_reason
    from parsed
),

classified as (
    {{ classify_raw_rows('checked', ['order_item_id'], 'order_item_id') }}
)

select * from classified
