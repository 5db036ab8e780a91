-- depends_on: {{ ref('stg_shop__raw_table_loads') }}
-- (the guards before features: macros/staging/raw_table_loads.sql)
with

base as (
    select * from {{ ref('base_shop__campaign_assignments') }}
    where _row_status = 'staged'
),

final as (
    select
        {{ dbt.hash(dbt.concat(["campaign_id", "'|'", "customer_id"])) }}
            as campaign_assignment_id,
        campaign_id,
        customer_id,
        treatment_group,
        treatment_group = 'treatment' as is_treated,
        assigned_at
    from base
)

select * from final
