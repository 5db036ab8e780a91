{#
    Segment stability on an SCD2 history (a dbt snapshot: one row per key and
    state, with dbt_valid_from / dbt_valid_to): between the two newest dates
    recorded in the history, at least `min_share` of the keys that had a
    non-null `column_name` at the earlier date still have the same value at
    the newer one. Returns one row (the two dates, the counts and the share)
    when the share is below `min_share`.

    A history with fewer than two dates has nothing to compare: the test
    passes and logs a warning that there is no history yet (the first build
    of a warehouse). Only the newest pair is tested: older pairs were tested
    by the builds that recorded them.
#}
{% test segment_stability(model, column_name, unique_key, min_share) %}
    {{ return(adapter.dispatch('test_segment_stability', 'predictive_segments')(
        model, column_name, unique_key, min_share)) }}
{% endtest %}

{% macro default__test_segment_stability(model, column_name, unique_key, min_share) %}
    {%- if min_share is none or min_share | float < 0 or min_share | float > 1 -%}
        {{ exceptions.raise_compiler_error(
            "segment_stability on " ~ model ~ "." ~ column_name ~ ": min_share "
            ~ "must be a share between 0 and 1 (e.g. 0.8), got " ~ min_share) }}
    {%- endif -%}
    {%- if execute and not render_only() -%}
        {%- set result = run_query(
            'select count(distinct dbt_valid_from) from ' ~ model) -%}
        {%- if result.columns[0].values()[0] < 2 -%}
            {%- do exceptions.warn(
                "segment_stability on " ~ model ~ "." ~ column_name
                ~ ": the history holds fewer than two as_of_dates, so there "
                ~ "is no earlier segmentation to compare with yet; the test "
                ~ "passes. It checks stability from the next build at a later "
                ~ "as_of_date on (make simulate-weeks builds several).") -%}
        {%- endif -%}
    {%- endif %}
with

history as (
    select
        {{ unique_key }} as history_key,
        {{ column_name }} as history_value,
        dbt_valid_from as valid_from,
        dbt_valid_to as valid_to
    from {{ model }}
),

newest_dates as (
    select distinct valid_from as recorded_at
    from history
    order by recorded_at desc
    limit 2
),

date_pair as (
    select
        min(recorded_at) as from_recorded_at,
        max(recorded_at) as to_recorded_at
    from newest_dates
    having count(*) = 2
),

states as (
    select
        date_pair.from_recorded_at,
        date_pair.to_recorded_at,
        history.history_key,
        history.history_value,
        history.valid_from,
        history.valid_to
    from date_pair
    cross join history
),

earlier as (
    select
        from_recorded_at,
        to_recorded_at,
        history_key,
        history_value
    from states
    where
        valid_from <= from_recorded_at
        and (valid_to is null or valid_to > from_recorded_at)
        and history_value is not null
),

newer as (
    select
        history_key,
        history_value
    from states
    where
        valid_from <= to_recorded_at
        and (valid_to is null or valid_to > to_recorded_at)
),

compared as (
    select
        earlier.from_recorded_at,
        earlier.to_recorded_at,
        count(*) as compared_keys,
        count(*) filter (
            where newer.history_value = earlier.history_value
        ) as kept_keys
    from earlier
    left join newer
        on earlier.history_key = newer.history_key
    group by earlier.from_recorded_at, earlier.to_recorded_at
),

failures as (
    select
        from_recorded_at,
        to_recorded_at,
        compared_keys,
        kept_keys,
        kept_keys / compared_keys as kept_share,
        {{ min_share }} as min_share
    from compared
    where kept_keys < {{ min_share }} * compared_keys
)

select * from failures
{% endmacro %}
