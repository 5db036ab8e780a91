-- depends_on: {{ ref('stg_shop__raw_table_loads') }}
-- (the guards before features: macros/staging/raw_table_loads.sql)
with

base as (
    select * from {{ ref('base_shop__customers') }}
    where _row_status = 'staged'
),

final as (
    select
        customer_id,
        country_code,
        acquisition_channel,
        gender,
        email_domain,
        birth_year,
        is_test_account,
        signed_up_at
    from base
)

select * from final
