{#
    A rejected model never publishes: passes when every non-null value of
    each version column of the model is the model_version of an approved
    row of its registry. `versions` maps a version column to the registry
    model it comes from, e.g. {churn_model_version: train_churn}; the
    registries are read through ref(), so name models of this project.
    Registry columns default to model_version and status, approved rows to
    status 'approved'. Returns one row per offending version column and
    version with the rows publishing it, its registry rows and reason:
    not_in_registry or not_approved.
#}
{% test approved_model_versions(model, versions, registry_version_column='model_version', status_column='status', approved_status='approved') %}
    {{ return(adapter.dispatch('test_approved_model_versions', 'predictive_segments')(model, versions, registry_version_column, status_column, approved_status)) }}
{% endtest %}

{% macro default__test_approved_model_versions(model, versions, registry_version_column, status_column, approved_status) %}
    {%- if versions is not mapping or versions | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "approved_model_versions on " ~ model ~ ": `versions` must map "
            ~ "each version column to the registry model it comes from "
            ~ "(got " ~ versions ~ "), e.g. {churn_model_version: "
            ~ "train_churn}.") }}
    {%- endif -%}
    {%- for registry in versions.values() -%}
        {%- if registry is not string or not modules.re.fullmatch(
                '[A-Za-z_][A-Za-z0-9_]*', registry) -%}
            {{ exceptions.raise_compiler_error(
                "approved_model_versions on " ~ model ~ ": registry '"
                ~ registry ~ "' must be the name of a model of this "
                ~ "project (e.g. train_churn), not a ref() or a "
                ~ "relation.") }}
        {%- endif -%}
    {%- endfor %}
    with

    published_versions as (
        {%- for column, registry in versions.items() %}
        select
            '{{ column }}' as version_column,
            '{{ registry }}' as registry_model,
            cast({{ column }} as {{ dbt.type_string() }}) as model_version,
            count(*) as published_rows
        from {{ model }}
        where {{ column }} is not null
        group by {{ column }}
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    ),

    registry_versions as (
        {%- for registry in versions.values() | unique %}
        select
            '{{ registry }}' as registry_model,
            cast({{ registry_version_column }} as {{ dbt.type_string() }})
                as model_version,
            count(*) as registry_rows,
            sum(
                case
                    when {{ status_column }} = '{{ approved_status }}' then 1
                    else 0
                end
            ) as approved_rows
        from {{ ref(registry) }}
        group by {{ registry_version_column }}
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    ),

    checked_versions as (
        select
            published_versions.version_column,
            published_versions.registry_model,
            published_versions.model_version,
            published_versions.published_rows,
            coalesce(registry_versions.registry_rows, 0) as registry_rows,
            case
                when registry_versions.model_version is null
                    then 'not_in_registry'
                when registry_versions.approved_rows = 0 then 'not_approved'
            end as reason
        from published_versions
        left join registry_versions
            on
                published_versions.registry_model
                = registry_versions.registry_model
                and published_versions.model_version
                = registry_versions.model_version
    )

    select * from checked_versions
    where reason is not null
{% endmacro %}
