{#-
    What customers buy, per cutoff: category breadth and switching, premium
    exploration, margin. Only order lines of orders before the cutoff.
-#}
with

order_lines as (
    select * from {{ ref('int_order_lines_joined_to_products') }}
),

cutoffs as (
    {{ cutoffs_relation(feature_cutoffs()) }}
),

lines_before_cutoff as (
    select
        order_lines.customer_id,
        cutoffs.cutoff_date,
        order_lines.order_id,
        order_lines.category,
        order_lines.price_tier,
        order_lines.margin_rate,
        order_lines.quantity,
        order_lines.line_amount,
        order_lines.ordered_date,
        order_lines.ordered_at,
        {{ days_before('order_lines.ordered_date', 'cutoffs.cutoff_date') }}
            as days_before_cutoff
    from order_lines
    inner join cutoffs
        on order_lines.ordered_at < cutoffs.cutoff_at
    where {{ in_feature_population('order_lines.customer_id') }}
),

category_spend as (
    select
        customer_id,
        cutoff_date,
        category,
        sum(line_amount) as category_amount,
        max(days_before_cutoff) as first_bought_days_ago
    from lines_before_cutoff
    group by customer_id, cutoff_date, category
),

category_mix as (
    select
        customer_id,
        cutoff_date,
        count(*) as distinct_categories,
        {{ count_if('first_bought_days_ago <= 90') }}
            as new_categories_last_90d,
        -{{ stable_sum(
            'case when category_share > 0 '
            ~ 'then category_share * ln(category_share) else 0 end') }}
            as category_entropy
    from (
        select
            category_spend.*,
            {{ safe_divide('category_amount',
                'sum(category_amount) over '
                ~ '(partition by customer_id, cutoff_date)') }}
                as category_share
        from category_spend
    ) as category_shares
    group by customer_id, cutoff_date
),

order_main_category as (
    select
        customer_id,
        cutoff_date,
        order_id,
        ordered_at,
        category
    from (
        select
            customer_id,
            cutoff_date,
            order_id,
            category,
            min(ordered_at) as ordered_at,
            row_number() over (
                partition by customer_id, cutoff_date, order_id
                order by sum(line_amount) desc, category
            ) as category_rank
        from lines_before_cutoff
        group by customer_id, cutoff_date, order_id, category
    ) as ranked
    where category_rank = 1
),

category_switches as (
    select
        customer_id,
        cutoff_date,
        {{ safe_divide(
            count_if('previous_category is not null '
                ~ 'and category != previous_category'),
            count_if('previous_category is not null')) }}
            as category_switch_rate
    from (
        select
            order_main_category.*,
            lag(order_main_category.category) over (
                partition by
                    order_main_category.customer_id,
                    order_main_category.cutoff_date
                order by
                    order_main_category.ordered_at,
                    order_main_category.order_id
            ) as previous_category
        from order_main_category
    ) as sequenced
    group by customer_id, cutoff_date
),

aggregated as (
    select
        customer_id,
        cutoff_date,
        count(distinct order_id) as itemized_order_count,
        sum(quantity) as units_bought,
        {{ safe_divide(sum_if("price_tier = 'premium'", 'line_amount'),
            'sum(line_amount)') }} as premium_spend_share,
        {{ safe_divide(sum_if("price_tier = 'budget'", 'line_amount'),
            'sum(line_amount)') }} as budget_spend_share,
        {{ safe_divide(
            sum_if("price_tier = 'premium' and days_before_cutoff <= 90",
                'line_amount'),
            sum_if('days_before_cutoff <= 90', 'line_amount')) }}
            as premium_spend_share_last_90d,
        {{ safe_divide(
            sum_if("price_tier = 'premium' and days_before_cutoff > 90",
                'line_amount'),
            sum_if('days_before_cutoff > 90', 'line_amount')) }}
            as premium_spend_share_before_90d,
        {{ safe_divide(stable_sum('margin_rate * line_amount'),
            'sum(case when margin_rate is not null then line_amount end)') }}
            as avg_margin_rate,
        max(ordered_at) as max_source_at
    from lines_before_cutoff
    group by customer_id, cutoff_date
),

final as (
    select
        aggregated.customer_id,
        aggregated.cutoff_date,
        aggregated.itemized_order_count,
        {{ safe_divide('aggregated.units_bought',
            'aggregated.itemized_order_count') }} as units_per_order,
        category_mix.distinct_categories,
        category_mix.new_categories_last_90d,
        category_mix.category_entropy,
        category_switches.category_switch_rate,
        aggregated.premium_spend_share,
        aggregated.budget_spend_share,
        aggregated.premium_spend_share_last_90d,
        aggregated.premium_spend_share_last_90d
        - aggregated.premium_spend_share_before_90d as premium_share_trend,
        aggregated.avg_margin_rate,
        aggregated.max_source_at
    from aggregated
    left join category_mix
        on
            aggregated.customer_id = category_mix.customer_id
            and aggregated.cutoff_date = category_mix.cutoff_date
    left join category_switches
        on
            aggregated.customer_id = category_switches.customer_id
            and aggregated.cutoff_date = category_switches.cutoff_date
)

select * from final
