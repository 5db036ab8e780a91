{#-
    The customers that get feature rows at the cutoffs before as_of_date
    (macros/features/feature_population.sql): at the training cutoffs a
    seeded sample of at most var training_max_customers customers, drawn
    among those known before as_of_date (so that a build as of a past date
    draws the same sample as a build on the data known then); at each
    campaign cutoff the customers assigned that day. Empty when the build does
    not retrain.
-#}
{%- set max_customers = whole_number_var(
    'training_max_customers', 'customers',
    'the models learn from at most that many customers per training cutoff.'
) -%}
{#- The campaign cutoffs as date literals; `in (null)` matches nothing. -#}
{%- set campaign_dates = [] -%}
{%- for cutoff in campaign_cutoffs() -%}
    {%- do campaign_dates.append(date_literal(cutoff)) -%}
{%- endfor -%}
{%- set as_of_at =
    "cast('" ~ as_of_date() ~ "' as " ~ dbt.type_timestamp() ~ ")" -%}
with

customers as (
    select
        customer_id,
        first_seen_at
    from {{ ref('int_customers_unified') }}
    where
        not is_test_account
        and (
            first_seen_at < {{ as_of_at }}
            or first_seen_at is null
        )
),

training_cutoffs as (
    {{ cutoffs_relation(all_training_cutoffs()) }}
),

training_sample as (
    select customer_id
    from customers
    qualify
        row_number() over (
            order by {{ sample_order('customer_id') }}, customer_id
        ) <= {{ max_customers }}
),

training_rows as (
    select
        training_sample.customer_id,
        training_cutoffs.cutoff_date,
        true as is_training_sample,
        false as is_campaign_participant
    from training_sample
    cross join training_cutoffs
),

campaign_rows as (
    select distinct
        customer_id,
        cast(assigned_at as date) as cutoff_date,
        false as is_training_sample,
        true as is_campaign_participant
    from {{ ref('stg_shop__campaign_assignments') }}
    where
        cast(assigned_at as date)
        in ({{ campaign_dates | join(', ') if campaign_dates else 'null' }})
),

final as (
    select
        customer_id,
        cutoff_date,
        bool_or(is_training_sample) as is_training_sample,
        bool_or(is_campaign_participant) as is_campaign_participant
    from (
        select * from training_rows
        union all
        select * from campaign_rows
    ) as population_rows
    group by customer_id, cutoff_date
)

select * from final
