{#-
    Segment migration: for every pair of consecutive as_of_dates in the
    segment history (snap_customer_segments), how many customers went from
    each primary segment to each other one (a transition matrix, one row per
    non-empty cell), with shares. Customers first recorded at the later date
    come from no segment (is_new_customer). A warehouse built at one
    as_of_date only has no pair yet and no rows; `make simulate-weeks` builds
    several weeks.
-#}
with

history as (
    select
        customer_id,
        segment_id,
        segment_name,
        cast(dbt_valid_from as date) as valid_from,
        cast(dbt_valid_to as date) as valid_to
    from {{ ref('snap_customer_segments') }}
),

history_dates as (
    select distinct valid_from as as_of_date
    from history
),

date_pairs as (
    select
        lag(as_of_date) over (order by as_of_date) as from_as_of_date,
        as_of_date as to_as_of_date
    from history_dates
),

consecutive_dates as (
    select *
    from date_pairs
    where from_as_of_date is not null
),

states as (
    {#- The row of each customer valid on each recorded date. #}
    select
        history_dates.as_of_date,
        history.customer_id,
        history.segment_id,
        history.segment_name
    from history_dates
    inner join history
        on
            history_dates.as_of_date >= history.valid_from
            and (
                history.valid_to is null
                or history_dates.as_of_date < history.valid_to
            )
),

transitions as (
    select
        consecutive_dates.from_as_of_date,
        consecutive_dates.to_as_of_date,
        from_state.segment_id as from_segment_id,
        from_state.segment_name as from_segment_name,
        to_state.segment_id as to_segment_id,
        to_state.segment_name as to_segment_name,
        from_state.customer_id is null as is_new_customer
    from consecutive_dates
    inner join states as to_state
        on consecutive_dates.to_as_of_date = to_state.as_of_date
    left join states as from_state
        on
            consecutive_dates.from_as_of_date = from_state.as_of_date
            and to_state.customer_id = from_state.customer_id
),

cells as (
    select
        from_as_of_date,
        to_as_of_date,
        from_segment_id,
        from_segment_name,
        to_segment_id,
        to_segment_name,
        is_new_customer,
        count(*) as customers
    from transitions
    group by all
),

final as (
    select
        from_as_of_date,
        to_as_of_date,
        datediff('day', from_as_of_date, to_as_of_date) as days_between,
        from_segment_id,
        from_segment_name,
        to_segment_id,
        to_segment_name,
        is_new_customer,
        (
            not is_new_customer
            and coalesce(
                from_segment_id = to_segment_id,
                from_segment_id is null and to_segment_id is null
            )
        ) as is_stay,
        customers,
        customers / sum(customers) over (
            partition by
                from_as_of_date, is_new_customer, from_segment_id,
                from_segment_name
        ) as share_of_from,
        customers / sum(customers) over (
            partition by from_as_of_date
        ) as share_of_customers,
        to_as_of_date = max(to_as_of_date) over () as is_latest
    from cells
)

select * from final
