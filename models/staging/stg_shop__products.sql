-- depends_on: {{ ref('stg_shop__raw_table_loads') }}
-- (the guards before features: macros/staging/raw_table_loads.sql)
with

base as (
    select * from {{ ref('base_shop__products') }}
    where _row_status = 'staged'
),

final as (
    select
        product_id,
        category,
        coalesce(price_tier, 'standard') as price_tier,
        margin_rate,
        coalesce(price_tier, 'standard') = 'premium' as is_premium
    from base
)

select * from final
