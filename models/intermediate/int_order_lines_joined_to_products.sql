{#- Order lines of staged orders, with product attributes and EUR amounts. -#}
with

orders as (
    select * from {{ ref('stg_shop__orders') }}
    where not is_cancelled and not is_refund
),

order_items as (
    select * from {{ ref('stg_shop__order_items') }}
),

products as (
    select * from {{ ref('stg_shop__products') }}
),

joined as (
    select
        order_items.order_item_id,
        order_items.order_id,
        orders.customer_id,
        order_items.product_id,
        coalesce(products.category, 'unknown') as category,
        coalesce(products.price_tier, 'standard') as price_tier,
        products.margin_rate,
        order_items.quantity,
        cast(
            {{ convert_money(
                'order_items.local_unit_price * order_items.quantity',
                'orders.exchange_rate_to_reporting') }}
            as {{ type_money() }}
        ) as line_amount,
        orders.ordered_date,
        orders.ordered_at
    from order_items
    inner join orders
        on order_items.order_id = orders.order_id
    left join products
        on order_items.product_id = products.product_id
)

select * from joined
