{#-
    The customer key the exports publish, one row per customer of
    dim_customers: the customer_id itself, or with var
    export_hash_customer_ids true its salted SHA-256 hash,
    sha256(salt || ':' || customer_id) as 64 lowercase hex characters, the
    salt read from the environment variable SEGMENTS_EXPORT_SALT so that it
    is never committed. Same salt and id give the same hash in every build,
    so an activation tool can match audiences across weeks; without the
    salt the ids cannot be recovered by hashing candidate ids. Ephemeral:
    the salt only reaches the compiled SQL under the target path.
-#}
{%- set hash_ids = var('export_hash_customer_ids', false)
    | string | lower in ['true', '1', 'yes'] -%}
{%- set salt = env_var('SEGMENTS_EXPORT_SALT', '') -%}
{%- if hash_ids and salt | length < 16 and not var('render_only', false) -%}
    {{ exceptions.raise_compiler_error(
        "var export_hash_customer_ids is true but the environment variable "
        ~ "SEGMENTS_EXPORT_SALT is " ~ ("empty" if salt == "" else "shorter "
        ~ "than 16 characters") ~ ": export SEGMENTS_EXPORT_SALT=<a secret "
        ~ "of at least 16 characters, the same for every build> (e.g. "
        ~ "`openssl rand -hex 32`), or set export_hash_customer_ids false.") }}
{%- endif -%}
{%- set salted_id = dbt.concat([
    "'" ~ salt | replace("'", "''") ~ ":'", "customers.customer_id"]) -%}
{%- set hashed_id = sha256_hex(salted_id) %}
with

customers as (
    select * from {{ ref('dim_customers') }}
),

final as (
    select
        customers.customer_id,
        {%- if hash_ids %}
        cast({{ hashed_id }} as {{ dbt.type_string() }})
            as export_customer_id,
        {%- else %}
        customers.customer_id as export_customer_id,
        {%- endif %}
        cast(
            {{ 'true' if hash_ids else 'false' }} as {{ dbt.type_boolean() }}
        ) as is_customer_id_hashed
    from customers
)

select * from final
