{#-
    The customer key the exports publish, one row per customer of
    dim_customers: the customer_id itself, or with var
    export_hash_customer_ids true its salted SHA-256 hash,
    sha256(salt || ':' || customer_id) as 64 lowercase hex characters, the
    salt read from the environment variable SEGMENTS_EXPORT_SALT so that it
    is never committed. Same salt and id give the same hash in every build,
    so an activation tool can match audiences across weeks; without the
    salt the ids cannot be recovered by hashing candidate ids. The salt never
    passes through dbt: DuckDB reads it while the query runs (export_salt(),
    macros/marts/exports.sql), so it is in no compiled SQL, artifact or log.
-#}
{%- set hash_ids = var('export_hash_customer_ids', false)
    | string | lower in ['true', '1', 'yes'] -%}
with

customers as (
    select * from {{ ref('dim_customers') }}
),

{%- if hash_ids %}

export_salts as (
    select {{ export_salt() }} as export_salt
),
{%- endif %}

final as (
    select
        customers.customer_id,
        {%- if hash_ids %}
        cast(
            {{ sha256_hex(dbt.concat([
                'export_salts.export_salt', "':'", 'customers.customer_id'])) }}
            as {{ dbt.type_string() }}
        ) as export_customer_id,
        {%- else %}
        customers.customer_id as export_customer_id,
        {%- endif %}
        cast(
            {{ 'true' if hash_ids else 'false' }} as {{ dbt.type_boolean() }}
        ) as is_customer_id_hashed
    from customers
    {%- if hash_ids %}
    cross join export_salts
    {%- endif %}
)

select * from final
