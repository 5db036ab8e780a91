with

base as (
    select * from {{ ref('base_shop__orders') }}
    where _row_status = 'staged'
),

final as (
    select
        order_id,
        customer_id,
        currency_code,
        order_status,
        channel,
        cast(_amount_number as {{ type_money() }}) as local_amount,
        cast(
            round(_amount_number * _rate_to_reporting, 2)
            as {{ type_money() }}
        ) as amount,
        case
            when order_status = 'cancelled' then 0
            else cast(
                round(_amount_number * _rate_to_reporting, 2)
                as {{ type_money() }}
            )
        end as revenue_amount,
        _rate_to_reporting as exchange_rate_to_reporting,
        order_status = 'refunded' or _amount_number < 0 as is_refund,
        order_status = 'cancelled' as is_cancelled,
        cast(ordered_at as date) as ordered_date,
        ordered_at
    from base
)

select * from final
