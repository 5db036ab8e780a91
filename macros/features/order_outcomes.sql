{#
    Labels: what each customer did in the window that starts on a cutoff.
    label_outcomes(label) renders, for each cutoff of the label (see
    training_cutoffs()), one row per customer of the training spine with
      window_index         1 for the window ending on as_of_date, 2 for the
                           one before it, ...
      had_purchase_before  at least one purchase before the cutoff
      window_order_count   purchases in [cutoff, cutoff + window): orders
                           with revenue_amount > 0, as in the features
      window_revenue       net revenue in that window: the sum of
                           revenue_amount (stg_shop__orders), where refund
                           records deduct themselves and cancelled orders
                           and orders refunded in full count 0
                           (docs/raw_contract.md, "orders"); DECIMAL
      window_end_date      first day after the window (<= as_of_date)
    The window never reaches past as_of_date: training_cutoffs() makes sure.
#}

{% macro order_outcomes_after(cutoff, window_days) -%}
    {%- set window_end = shift_date(cutoff, window_days | int) -%}
    with

    spine as (
        select
            customer_id,
            cutoff_date
        from {{ ref('feat_customers_training') }}
        where cutoff_date = {{ date_literal(cutoff) }}
    ),

    orders as (
        select * from {{ ref('stg_shop__orders') }}
    ),

    outcomes as (
        select
            orders.customer_id,
            {{ count_if("not orders.is_cancelled and orders.revenue_amount > 0 "
                ~ "and orders.ordered_date < " ~ date_literal(cutoff)) }}
                as purchases_before,
            {{ count_if("not orders.is_cancelled and orders.revenue_amount > 0 "
                ~ "and orders.ordered_date >= " ~ date_literal(cutoff)
                ~ " and orders.ordered_date < " ~ date_literal(window_end)) }}
                as window_order_count,
            {{ sum_if("orders.ordered_date >= " ~ date_literal(cutoff)
                ~ " and orders.ordered_date < " ~ date_literal(window_end),
                'orders.revenue_amount') }} as window_revenue,
            max(
                case
                    when orders.ordered_date < {{ date_literal(window_end) }}
                        then orders.ordered_at
                end
            ) as max_source_at
        from orders
        where orders.ordered_date < {{ date_literal(window_end) }}
        group by orders.customer_id
    ),

    final as (
        select
            spine.customer_id,
            spine.cutoff_date,
            {{ window_days }} as window_days,
            coalesce(outcomes.purchases_before, 0) > 0 as had_purchase_before,
            coalesce(outcomes.window_order_count, 0) as window_order_count,
            coalesce(outcomes.window_revenue, 0) as window_revenue,
            {{ date_literal(window_end) }} as window_end_date,
            {{ date_literal(as_of_date()) }} as as_of_date,
            outcomes.max_source_at
        from spine
        left join outcomes
            on spine.customer_id = outcomes.customer_id
    )

    select * from final
{%- endmacro %}


{% macro label_outcomes(label) -%}
    {%- set window_days = label_windows()[label][0] -%}
    {%- set cutoffs = training_cutoffs()[label] -%}
    {%- if cutoffs | length == 0 %}
    {#- No training cutoff (var retrain false): no rows, same columns. #}
    select
        outcomes_none.*,
        1 as window_index
    from ({{ order_outcomes_after(as_of_date(), window_days) }}) as outcomes_none
    where 1 = 0
    {%- endif %}
    {%- for cutoff in cutoffs %}
    select
        outcomes_{{ loop.index }}.*,
        {{ loop.index }} as window_index
    from ({{ order_outcomes_after(cutoff, window_days) }}) as outcomes_{{ loop.index }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
