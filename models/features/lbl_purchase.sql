{#-
    Purchase labels: did the customer buy within propensity_window_days after
    a propensity cutoff (as_of_date minus 1, 2, ... windows; window_index 1
    is the newest)?
-#}
with

outcomes as (
    {{ label_outcomes('purchase') }}
),

final as (
    select
        outcomes.*,
        outcomes.window_order_count > 0 as has_purchased
    from outcomes
)

select * from final
