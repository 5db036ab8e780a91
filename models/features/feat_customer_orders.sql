{#-
    Purchase features per customer and cutoff: recency, frequency, monetary
    (gross and net of refunds), cadence and trends. Only orders placed
    strictly before the cutoff are read. Every amount is revenue_amount of
    stg_shop__orders, where refunds are netted (docs/raw_contract.md,
    "orders"): a purchase has revenue_amount > 0, a refund record < 0, and
    a cancelled order or one refunded in full 0; so monetary_gross -
    refund_amount = monetary_net. Amounts and their sums stay DECIMAL;
    means and standard deviations (avg_order_value, stddev_order_value)
    are statistics for the models, doubles as before (an engine divides
    decimals in floating point), and reach no mart.
-#}
with

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

cutoffs as (
    {{ cutoffs_relation(feature_cutoffs()) }}
),

orders_before_cutoff as (
    select
        orders.customer_id,
        cutoffs.cutoff_date,
        orders.channel,
        orders.revenue_amount,
        orders.is_refund,
        orders.is_cancelled,
        not orders.is_cancelled and orders.revenue_amount > 0 as is_purchase,
        orders.ordered_date,
        orders.ordered_at,
        {{ days_before('orders.ordered_date', 'cutoffs.cutoff_date') }}
            as days_before_cutoff
    from orders
    inner join cutoffs
        on orders.ordered_at < cutoffs.cutoff_at
    where {{ in_feature_population('orders.customer_id') }}
),

purchase_days as (
    select
        customer_id,
        cutoff_date,
        ordered_date,
        {{ days_before(
            'lag(ordered_date) over (partition by customer_id, cutoff_date '
            ~ 'order by ordered_date)',
            'ordered_date') }} as gap_days,
        row_number() over (
            partition by customer_id, cutoff_date
            order by ordered_date desc
        ) as recency_rank
    from (
        select distinct
            customer_id,
            cutoff_date,
            ordered_date
        from orders_before_cutoff
        where is_purchase
    ) as distinct_days
),

cadence as (
    select
        customer_id,
        cutoff_date,
        avg(gap_days) as mean_interpurchase_days,
        {{ stable_stddev('gap_days') }} as stddev_interpurchase_days,
        max(case when recency_rank = 1 then gap_days end)
            as last_interpurchase_days,
        avg(case when recency_rank <= 3 then gap_days end)
            as recent_interpurchase_days
    from purchase_days
    group by customer_id, cutoff_date
),

aggregated as (
    select
        customer_id,
        cutoff_date,
        {{ count_if('is_purchase') }} as order_count,
        count(distinct case when is_purchase then ordered_date end)
            as purchase_day_count,
        {{ count_if('is_refund') }} as refund_count,
        {{ count_if('is_cancelled') }} as cancelled_order_count,
        {{ count_if('not is_cancelled and not is_refund '
            ~ 'and revenue_amount = 0') }} as zero_amount_order_count,
        {{ sum_if('is_purchase', 'revenue_amount') }} as monetary_gross,
        sum(revenue_amount) as monetary_net,
        -{{ sum_if('is_refund', 'revenue_amount') }} as refund_amount,
        avg(case when is_purchase then revenue_amount end)
            as avg_order_value,
        max(case when is_purchase then revenue_amount end)
            as max_order_value,
        {{ stable_stddev('case when is_purchase then revenue_amount end') }}
            as stddev_order_value,
        min(case when is_purchase then days_before_cutoff end)
            as recency_days,
        max(case when is_purchase then days_before_cutoff end)
            as first_purchase_days_ago,
        {{ count_if('is_purchase and days_before_cutoff <= 30') }}
            as orders_last_30d,
        {{ count_if('is_purchase and days_before_cutoff <= 90') }}
            as orders_last_90d,
        {{ count_if('is_purchase and days_before_cutoff between 91 and 180') }}
            as orders_prev_90d,
        {{ count_if('is_purchase and days_before_cutoff <= 365') }}
            as orders_last_365d,
        {{ sum_if('days_before_cutoff <= 30', 'revenue_amount') }}
            as revenue_last_30d,
        {{ sum_if('days_before_cutoff <= 90', 'revenue_amount') }}
            as revenue_last_90d,
        {{ sum_if('days_before_cutoff between 91 and 180', 'revenue_amount') }}
            as revenue_prev_90d,
        {{ sum_if('days_before_cutoff <= 365', 'revenue_amount') }}
            as revenue_last_365d,
        avg(
            case
                when is_purchase and days_before_cutoff <= 90
                    then revenue_amount
            end
        ) as avg_order_value_last_90d,
        {{ safe_divide(count_if("is_purchase and channel = 'app'"),
            count_if('is_purchase')) }} as app_order_share,
        {{ safe_divide(count_if("is_purchase and channel = 'store'"),
            count_if('is_purchase')) }} as store_order_share,
        {{ safe_divide(count_if("is_purchase and channel = 'marketplace'"),
            count_if('is_purchase')) }} as marketplace_order_share,
        max(ordered_at) as max_source_at
    from orders_before_cutoff
    group by customer_id, cutoff_date
),

final as (
    select
        aggregated.customer_id,
        aggregated.cutoff_date,
        aggregated.order_count,
        aggregated.purchase_day_count,
        aggregated.refund_count,
        aggregated.cancelled_order_count,
        aggregated.zero_amount_order_count,
        aggregated.monetary_gross,
        aggregated.monetary_net,
        aggregated.refund_amount,
        {{ safe_divide('aggregated.refund_count', 'aggregated.order_count') }}
            as refund_rate,
        aggregated.avg_order_value,
        aggregated.max_order_value,
        aggregated.stddev_order_value,
        aggregated.recency_days,
        aggregated.first_purchase_days_ago,
        aggregated.orders_last_30d,
        aggregated.orders_last_90d,
        aggregated.orders_prev_90d,
        aggregated.orders_last_365d,
        aggregated.revenue_last_30d,
        aggregated.revenue_last_90d,
        aggregated.revenue_prev_90d,
        aggregated.revenue_last_365d,
        {{ log_ratio('aggregated.revenue_last_90d',
            'aggregated.revenue_prev_90d') }} as spend_trend_90d,
        {{ log_ratio('aggregated.orders_last_90d',
            'aggregated.orders_prev_90d') }} as order_trend_90d,
        aggregated.avg_order_value_last_90d,
        {{ safe_divide('aggregated.avg_order_value_last_90d',
            'aggregated.avg_order_value') }} as aov_trend,
        cadence.mean_interpurchase_days,
        cadence.stddev_interpurchase_days,
        cadence.last_interpurchase_days,
        {{ safe_divide('cadence.recent_interpurchase_days',
            'cadence.mean_interpurchase_days') }} as cadence_trend,
        {{ safe_divide('aggregated.recency_days',
            'cadence.mean_interpurchase_days') }} as recency_to_cadence_ratio,
        {{ safe_divide('aggregated.order_count',
            '(aggregated.first_purchase_days_ago + 1) / 30.0') }}
            as orders_per_month,
        aggregated.app_order_share,
        aggregated.store_order_share,
        aggregated.marketplace_order_share,
        aggregated.max_source_at
    from aggregated
    left join cadence
        on
            aggregated.customer_id = cadence.customer_id
            and aggregated.cutoff_date = cadence.cutoff_date
)

select * from final
