{#-
    The same rows as exp_audience_members, as CSV with a header for tools
    that do not read Parquet: <exports dir>/exp_audience_members.csv.
-#}
{#- A template: rendered when the model runs (macros/marts/exports.sql). -#}
{{ config(location="{{ export_location('exp_audience_members.csv') }}") }}
with

audience_members as (
    select * from {{ ref('exp_audience_members') }}
),

final as (
    select
        audience_members.audience_id,
        audience_members.customer_id,
        audience_members.audience_name,
        audience_members.is_customer_id_hashed,
        audience_members.as_of_date
    from audience_members
)

select * from final
