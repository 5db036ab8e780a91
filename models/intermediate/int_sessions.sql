{#-
    One row per identified session (customer_id known), aggregated over all
    its staged events, whenever they arrived. int_events_sessionized derives
    what each feature cutoff knew of a session from it.

    Incremental (strategy replace_keys, macros/ops/incremental_replace_keys.sql):
    a build recomputes only the sessions that have a row loaded into
    base_shop__events after the newest load this table has seen
    (_events_loaded_at), whatever that row's status: a new event, a
    duplicate, or a row that lost or won an id conflict. A recomputed session
    left without staged events is deleted; when base_shop__events was
    reloaded completely, so is this table. The result equals a full rebuild
    (tests/integration/test_incremental_refresh.py).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key='session_id',
    on_schema_change='fail',
) }}

with

loads as (
    select
        max(_loaded_at) as newest_loaded_at,
        min(_loaded_at) as oldest_loaded_at
    from {{ ref('base_shop__events') }}
),

{% if is_incremental() %}
watermark as (
    select
        max(_events_loaded_at) as loaded_at,
        (select loads.oldest_loaded_at from loads) > max(_events_loaded_at)
            as is_reload
    from {{ this }}
),

touched_sessions as (
    select distinct base.session_id
    from {{ ref('base_shop__events') }} as base
    cross join watermark
    where
        base.session_id is not null
        and (
            watermark.loaded_at is null
            or watermark.is_reload
            or base._loaded_at > watermark.loaded_at
        )
),
{% endif %}

events as (
    select stg_events.*
    from {{ ref('stg_shop__events') }} as stg_events
    {%- if is_incremental() %}
    inner join touched_sessions
        on stg_events.session_id = touched_sessions.session_id
    {%- endif %}
    where stg_events.customer_id is not null
),

sessions as (
    select
        session_id,
        {{ session_aggregates() }}
    from events
    group by session_id
),

final as (
    select
        sessions.*,
        loads.newest_loaded_at as _events_loaded_at,
        cast(null as {{ dbt.type_string() }}) as _change
    from sessions
    cross join loads
    {%- if is_incremental() %}
    union all by name
    -- Recomputed sessions without staged events any more: delete them.
    select
        touched_sessions.session_id,
        'delete' as _change
    from touched_sessions
    where touched_sessions.session_id not in (select session_id from sessions)
    union all by name
    select
        '' as session_id,
        'reload' as _change
    from watermark
    where watermark.is_reload
    {%- endif %}
)

select * from final
