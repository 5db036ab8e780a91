{#-
    One row per raw table per build: what staging made of its rows. Before
    writing, the guards of macros/staging/raw_table_loads.sql run on the
    base_ tables; when one fails the build stops here, and since every
    stg_shop__ view depends on this model, no feature, model, mart or
    history is touched. The rows of earlier builds are the baseline of the
    volume guard, so --full-refresh keeps them.
-#}
{{ config(
    materialized='incremental',
    full_refresh=false,
    on_schema_change='fail',
) }}

{%- set existing = existing_history(this) %}
{%- set check_status = check_raw_table_loads(existing) %}

with

load_counts as (
    {{ raw_table_load_counts() }}
),

final as (
    select
        '{{ invocation_id }}' as invocation_id,
        load_counts.source_table,
        '{{ check_status }}' as check_status,
        load_counts.raw_row_count,
        load_counts.staged_row_count,
        load_counts.quarantined_row_count,
        load_counts.counted_quarantined_row_count,
        load_counts.collapsed_duplicate_row_count,
        case
            when load_counts.raw_row_count > 0
                then
                    cast(
                        load_counts.quarantined_row_count
                        as {{ dbt.type_float() }}
                    )
                    / load_counts.raw_row_count
        end as quarantined_share,
        {{ date_literal(as_of_date()) }} as as_of_date,
        load_counts.first_staged_at,
        load_counts.last_staged_at,
        {{ build_time(precise=true) }} as built_at
    from load_counts
)

select * from final
