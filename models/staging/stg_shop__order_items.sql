with

base as (
    select * from {{ ref('base_shop__order_items') }}
    where _row_status = 'staged'
),

final as (
    select
        order_item_id,
        order_id,
        product_id,
        cast(coalesce(_quantity_number, 1) as {{ dbt.type_int() }}) as quantity,
        cast(_unit_price_number as {{ type_money() }}) as local_unit_price
    from base
)

select * from final
