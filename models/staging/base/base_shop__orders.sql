{%- set raw_orders = raw_table('orders') -%}
{%- do log_default_currency('orders', raw_orders) -%}
{%- set max_amount = number_var('max_order_amount') -%}
{%- set reporting_currency = sql_string(var('reporting_currency')) -%}
with

raw_rows as (
    {{ raw_orders }}
),

{{ keyed_source_ctes('raw_rows', ['order_id']) }},

{{ staged_customers_ctes() }},

currency_rates as (
    select * from {{ ref('currency_rates') }}
),

reporting_rate as (
    select currency_rates.rate_to_eur
    from currency_rates
    where currency_rates.currency_code = {{ reporting_currency }}
),

parsed as (
    select
        {{ clean_id('source.order_id') }} as order_id,
        {{ clean_id('source.customer_id') }} as customer_id,
        upper(
            coalesce(
                {{ clean_code('source.currency') }},
                '{{ default_currency() }}'
            )
        ) as currency_code,
        {{ clean_code('source.status') }} as _raw_status,
        {{ clean_code('source.channel') }} as channel,
        {{ parse_money('source.amount', below=max_amount) }}
            as _amount_decimal,
        {{ money_is_number('source.amount') }} as _is_amount_number,
        {{ parse_utc_timestamp('source.ordered_at') }} as ordered_at,
        {{ row_hash([
            'source.order_id', 'source.customer_id', 'source.ordered_at',
            'source.amount', 'source.currency', 'source.status',
            'source.channel']) }} as _row_hash,
        {{ raw_record([
            'source.order_id', 'source.customer_id', 'source.ordered_at',
            'source.amount', 'source.currency', 'source.status',
            'source.channel']) }} as _raw_record,
        source._has_duplicated_key
    from source
),

checked as {{ cte_not_materialized() }} (
    select
        parsed.*,
        coalesce(
            parsed._raw_status,
            case when parsed._amount_decimal < 0 then 'refunded' end,
            'completed'
        ) as order_status,
        currency_rates.rate_to_eur / reporting_rate.rate_to_eur
            as _rate_to_reporting,
        {{ first_reason([
            ('parsed.order_id is null or parsed.customer_id is null',
                'missing_key'),
            ('parsed.ordered_at is null', 'invalid_timestamp'),
            ('not ' ~ timestamp_in_range('parsed.ordered_at'),
                'timestamp_out_of_range'),
            ('not parsed._is_amount_number', 'invalid_amount'),
            ('parsed._amount_decimal is null', 'absurd_amount'),
            ('currency_rates.currency_code is null', 'unknown_currency'),
            ("coalesce(parsed._raw_status, 'completed') not in "
                ~ "('completed', 'cancelled', 'refunded')",
                'unknown_status'),
        ] + customer_checks('parsed')) }} as _row_reason
    from parsed
    cross join customer_table
    cross join reporting_rate
    left join currency_rates
        on parsed.currency_code = currency_rates.currency_code
    left join customers
        on parsed.customer_id = customers.customer_id
),

classified as (
    {{ classify_raw_rows('checked', ['order_id'], 'ordered_at') }}
)

select * from classified
