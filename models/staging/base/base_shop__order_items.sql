{%- set max_amount = number_var('max_order_amount') -%}
with

raw_rows as (
    {{ raw_table('order_items') }}
),

{{ keyed_source_ctes('raw_rows', ['order_item_id']) }},

orders as (
    select
        order_id,
        max(case when _row_status = 'staged' then 1 else 0 end) = 1
            as is_staged,
        max(case when _quarantine_reason = 'test_account' then 1 else 0 end)
        = 1 as is_test_account
    from {{ ref('base_shop__orders') }}
    where order_id is not null
    group by order_id
),

parsed as (
    select
        {{ clean_id('source.order_item_id') }} as order_item_id,
        {{ clean_id('source.order_id') }} as order_id,
        {{ clean_id('source.product_id') }} as product_id,
        {{ parse_integer('source.quantity') }} as _quantity_number,
        source.quantity is not null as _has_raw_quantity,
        {{ parse_money('source.unit_price', below=max_amount) }}
            as _unit_price_decimal,
        {{ money_is_number('source.unit_price') }} as _is_unit_price_number,
        source.unit_price is not null as _has_raw_unit_price,
        {{ row_hash([
            'source.order_item_id', 'source.order_id', 'source.product_id',
            'source.quantity', 'source.unit_price']) }} as _row_hash,
        {{ raw_record([
            'source.order_item_id', 'source.order_id', 'source.product_id',
            'source.quantity', 'source.unit_price']) }} as _raw_record,
        source._has_duplicated_key
    from source
),

checked as {{ cte_not_materialized() }} (
    select
        parsed.*,
        {{ first_reason([
            ('parsed.order_item_id is null or parsed.order_id is null '
                ~ 'or parsed.product_id is null', 'missing_key'),
            ('parsed._has_raw_quantity and (parsed._quantity_number is null '
                ~ 'or parsed._quantity_number <= 0)', 'invalid_quantity'),
            ('parsed._has_raw_unit_price and not parsed._is_unit_price_number',
                'invalid_amount'),
            ('parsed._has_raw_unit_price and parsed._unit_price_decimal '
                ~ 'is null', 'absurd_amount'),
            ('abs(parsed._unit_price_decimal '
                ~ '* coalesce(parsed._quantity_number, 1)) >= '
                ~ max_amount, 'absurd_amount'),
            ('orders.is_test_account and not orders.is_staged',
                'test_account'),
            ('not coalesce(orders.is_staged, false)', 'unknown_order'),
        ]) }} as _row_reason
    from parsed
    left join orders
        on parsed.order_id = orders.order_id
),

classified as (
    {{ classify_raw_rows('checked', ['order_item_id'], 'order_item_id') }}
)

select * from classified
