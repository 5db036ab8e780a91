{#-
    One row per customer of feat_customers (non-test customers known before
    as_of_date) with descriptive attributes as known at as_of_date: a
    customer record signed up on or after it is not known yet.
-#}
with

customers as (
    select * from {{ ref('int_customers_unified') }}
),

features as (
    select * from {{ ref('feat_customers') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

purchases as (
    {#- A purchase as in feat_customer_orders: not cancelled, revenue > 0. -#}
    select
        features.customer_id,
        min(orders.ordered_at) as first_ordered_at,
        max(orders.ordered_at) as last_ordered_at
    from features
    inner join orders
        on
            features.customer_id = orders.customer_id
            and orders.ordered_at
            < cast(features.cutoff_date as {{ dbt.type_timestamp() }})
    where
        not orders.is_cancelled
        and orders.revenue_amount > 0
    group by features.customer_id
),

known_customers as (
    select
        features.customer_id,
        features.acquisition_channel,
        features.has_customer_record,
        features.order_count,
        features.monetary_net,
        features.revenue_last_365d,
        features.cutoff_date,
        {#- Attributes of the record only when it is known at the cutoff. -#}
        case
            when features.has_customer_record then customers.country_code
        end as country_code,
        case
            when features.has_customer_record then customers.gender
        end as gender,
        case
            when features.has_customer_record then customers.birth_year
        end as birth_year,
        case
            when features.has_customer_record then customers.signed_up_at
        end as signed_up_at
    from features
    left join customers
        on features.customer_id = customers.customer_id
),

final as (
    select
        cast(known_customers.customer_id as {{ dbt.type_string() }})
            as customer_id,
        cast(known_customers.country_code as {{ dbt.type_string() }})
            as country_code,
        cast(known_customers.acquisition_channel as {{ dbt.type_string() }})
            as acquisition_channel,
        cast(known_customers.gender as {{ dbt.type_string() }}) as gender,
        cast({{ age_band(
            'extract(year from known_customers.cutoff_date)'
            ~ ' - known_customers.birth_year') }} as {{ dbt.type_string() }})
            as age_band,
        cast(known_customers.order_count as {{ dbt.type_int() }})
            as order_count,
        cast(known_customers.monetary_net as {{ type_money() }})
            as lifetime_net_revenue,
        cast(known_customers.revenue_last_365d as {{ type_money() }})
            as revenue_last_365d,
        cast(known_customers.has_customer_record as {{ dbt.type_boolean() }})
            as has_customer_record,
        known_customers.cutoff_date as as_of_date,
        cast(known_customers.signed_up_at as {{ dbt.type_timestamp() }})
            as signed_up_at,
        cast(purchases.first_ordered_at as {{ dbt.type_timestamp() }})
            as first_ordered_at,
        cast(purchases.last_ordered_at as {{ dbt.type_timestamp() }})
            as last_ordered_at
    from known_customers
    left join purchases
        on known_customers.customer_id = purchases.customer_id
)

select * from final
