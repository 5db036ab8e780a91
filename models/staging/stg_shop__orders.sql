-- depends_on: {{ ref('stg_shop__raw_table_loads') }}
-- (the guards before features: macros/staging/raw_table_loads.sql)
with

base as (
    select * from {{ ref('base_shop__orders') }}
    where _row_status = 'staged'
),

converted as (
    select
        base.*,
        {{ round_money('base._amount_decimal') }} as _local_amount,
        {{ convert_money('base._amount_decimal', 'base._rate_to_reporting') }}
            as _reporting_amount
    from base
),

final as (
    {#-
        Revenue (docs/raw_contract.md, "orders"): a negative amount is a
        refund record and deducts itself; a positive amount with status
        refunded is an order refunded in full afterwards and counts 0, as
        does a cancelled order of any amount.
    -#}
    select
        order_id,
        customer_id,
        currency_code,
        order_status,
        channel,
        _local_amount as local_amount,
        _reporting_amount as amount,
        case
            when order_status = 'cancelled' then cast(0 as {{ type_money() }})
            when
                order_status = 'refunded' and _amount_decimal > 0
                then cast(0 as {{ type_money() }})
            else _reporting_amount
        end as revenue_amount,
        _rate_to_reporting as exchange_rate_to_reporting,
        order_status != 'cancelled'
        and (order_status = 'refunded' or _amount_decimal < 0) as is_refund,
        order_status = 'cancelled' as is_cancelled,
        cast(ordered_at as date) as ordered_date,
        ordered_at
    from converted
)

select * from final
