-- depends_on: {{ ref('stg_shop__raw_table_loads') }}
-- (the guards before features: macros/staging/raw_table_loads.sql)
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
        {{ round_money('_unit_price_decimal') }} as local_unit_price
    from base
)

select * from final
