{#-
    Activation export: every audience member as of as_of_date, one row per
    audience and customer, with the audience's name, written to
    <exports dir>/exp_audience_members.parquet (dbt-duckdb external
    materialization; by default <warehouse stem>.exports/ next to the
    warehouse file, see macros/marts/exports.sql). customer_id is the salted
    hash when var export_hash_customer_ids is true.
-#}
{#- A template: rendered when the model runs (macros/marts/exports.sql). -#}
{{ config(location="{{ export_location('exp_audience_members.parquet') }}") }}
with

audience_members as (
    select * from {{ ref('fct_audience_members') }}
),

audiences as (
    select * from {{ ref('dim_audiences') }}
),

export_ids as (
    select * from {{ ref('int_customer_ids_pseudonymized') }}
),

final as (
    select
        audience_members.audience_id,
        export_ids.export_customer_id as customer_id,
        audiences.audience_name,
        export_ids.is_customer_id_hashed,
        audience_members.as_of_date
    from audience_members
    inner join audiences
        on audience_members.audience_id = audiences.audience_id
    inner join export_ids
        on audience_members.customer_id = export_ids.customer_id
)

select * from final
