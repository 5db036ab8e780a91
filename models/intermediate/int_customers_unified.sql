{#-
    Every customer the warehouse knows: registered in customers, or seen only
    in orders (an orders-only project has no customers table at all).
-#}
with

customers as (
    select * from {{ ref('stg_shop__customers') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

customers_from_orders as (
    select
        customer_id,
        min(ordered_at) as first_ordered_at
    from orders
    group by customer_id
),

unified as (
    select
        coalesce(customers.customer_id, customers_from_orders.customer_id)
            as customer_id,
        customers.country_code,
        customers.acquisition_channel,
        customers.gender,
        customers.birth_year,
        customers.customer_id is not null as has_customer_record,
        coalesce(customers.is_test_account, false) as is_test_account,
        customers.signed_up_at,
        customers_from_orders.first_ordered_at,
        case
            when customers.signed_up_at is null
                then customers_from_orders.first_ordered_at
            when customers_from_orders.first_ordered_at is null
                then customers.signed_up_at
            when customers.signed_up_at < customers_from_orders.first_ordered_at
                then customers.signed_up_at
            else customers_from_orders.first_ordered_at
        end as first_seen_at
    from customers
    full outer join customers_from_orders
        on customers.customer_id = customers_from_orders.customer_id
)

select * from unified
