{#
    Who gets a feature row at which cutoff. Every customer at as_of_date (the
    scoring cutoff: every customer is scored). At the other cutoffs only the
    customers some model learns from (int_feature_population):
      training cutoffs  a seeded sample of at most var training_max_customers
                        customers (all of them below that), the same
                        customers at every cutoff;
      campaign cutoffs  the customers assigned to a campaign on that date.
    The feature SQL joins every order line, session and e-mail event to every
    cutoff before it, so these rows are most of its cost: at 1,000,000
    customers the training cutoffs would otherwise hold 5 x 1,000,000 feature
    rows for models that learn from samples of 50,000-200,000.
#}

{% macro in_feature_population(customer_column, cutoffs='cutoffs') -%}
    {#-
        True for a row of customer `customer_column` at a cutoff of the
        relation `cutoffs` (cutoffs_relation()) that some model reads:
        any customer at as_of_date, else a row of int_feature_population.
    -#}
    (
        {{ cutoffs }}.cutoff_date = {{ date_literal(as_of_date()) }}
        or exists (
            select 1
            from {{ ref('int_feature_population') }} as feature_population
            where
                feature_population.customer_id = {{ customer_column }}
                and feature_population.cutoff_date = {{ cutoffs }}.cutoff_date
        )
    )
{%- endmacro %}


{% macro sample_order(expression) -%}
    {#-
        A deterministic pseudo-random order of `expression` values (ids):
        the order of a seeded sample that depends on each id alone.
    -#}
    {{ return(adapter.dispatch('sample_order', 'predictive_segments')(expression)) }}
{%- endmacro %}

{% macro default__sample_order(expression) -%}
    {{ dbt.hash(dbt.concat([sql_string(var('model_seed') ~ ':'), expression])) }}
{%- endmacro %}

{% macro duckdb__sample_order(expression) -%}
    {#- DuckDB's 64-bit hash; stable for a DuckDB version (samples are drawn anew by every training build). -#}
    hash({{ var('model_seed') | int }}, {{ expression }})
{%- endmacro %}
