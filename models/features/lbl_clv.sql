{#-
    Customer value labels: net revenue over clv_horizon_days after the CLV
    cutoff (as_of_date - clv_horizon_days). has_full_history is false when the
    orders data starts after that cutoff, so the label window is not fully
    preceded by history and the supervised CLV model must not train on it.
-#}
with

outcomes as (
    {{ label_outcomes('clv') }}
),

first_order as (
    select min(ordered_date) as first_order_date
    from {{ ref('stg_shop__orders') }}
),

final as (
    select
        outcomes.*,
        first_order.first_order_date < outcomes.cutoff_date
            as has_full_history
    from outcomes
    cross join first_order
)

select * from final
