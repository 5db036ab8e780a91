{#-
    Purchase labels: did the customer buy within propensity_window_days after
    the propensity cutoff (as_of_date - propensity_window_days)?
-#}
with

outcomes as (
    {{ order_outcomes_after(training_cutoffs()['purchase'],
        var('propensity_window_days')) }}
),

final as (
    select
        outcomes.*,
        outcomes.window_order_count > 0 as has_purchased
    from outcomes
)

select * from final
