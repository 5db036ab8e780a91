{#
    Published model quality: passes when every row selected by
    `filter_column` (a boolean, e.g. is_serving; omit it to check every row)
    has each gated metric at or above its floor. `gates` maps a value of
    `group_column` (e.g. a model_family) to {metric column: floor}, e.g.
    {churn: {headline_metric_value: 0.65}, segments: {headline_metric_value:
    0.1, bootstrap_stability: 0.6}}. A null metric fails (the gate cannot be
    shown to hold), as does a selected row whose group has no gate while
    require_gate is true, so that a new model family cannot publish
    ungated. Returns the offending rows with gate_metric, gate_value,
    gate_floor and gate_failure (below_gate, metric_missing or no_gate).
    Metrics listed in `optional_metrics` may be null (not measured: e.g. a
    history without the window to measure them on); when present they must
    meet their floor.
#}
{% test metrics_meet_gates(model, group_column, gates, filter_column=none, require_gate=true, optional_metrics=[]) %}
    {{ return(adapter.dispatch('test_metrics_meet_gates', 'predictive_segments')(model, group_column, gates, filter_column, require_gate, optional_metrics)) }}
{% endtest %}

{% macro default__test_metrics_meet_gates(model, group_column, gates, filter_column, require_gate, optional_metrics=[]) %}
    {%- set test_name = "metrics_meet_gates on " ~ model -%}
    {%- if not group_column -%}
        {{ exceptions.raise_compiler_error(
            test_name ~ ": set `group_column` to the column naming the model "
            ~ "family the gates apply to (e.g. model_family).") }}
    {%- endif -%}
    {%- if gates is not mapping or gates | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            test_name ~ ": `gates` must map each " ~ group_column ~ " to "
            ~ "{metric column: floor} (got " ~ gates ~ "), e.g. {churn: "
            ~ "{headline_metric_value: \"{{ var('churn_min_auc') }}\"}}.") }}
    {%- endif -%}
    {%- set checks = [] -%}
    {%- for group, metrics in gates.items() -%}
        {%- if metrics is not mapping or metrics | length == 0 -%}
            {{ exceptions.raise_compiler_error(
                test_name ~ ": the gates of " ~ group ~ " must map metric "
                ~ "columns to floors (got " ~ metrics ~ "), e.g. "
                ~ "{headline_metric_value: 0.65}.") }}
        {%- endif -%}
        {%- for metric, floor in metrics.items() -%}
            {%- set floor_value = floor | float(none) -%}
            {%- if floor is none or floor is boolean or floor_value is none -%}
                {{ exceptions.raise_compiler_error(
                    test_name ~ ": the floor of " ~ group ~ "." ~ metric
                    ~ " must be a number (got " ~ floor ~ "); check the "
                    ~ "var it comes from in dbt_project.yml.") }}
            {%- endif -%}
            {%- do checks.append({
                'group': group | string | replace("'", "''"),
                'metric': metric,
                'floor': floor_value}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set selected = filter_column ~ ' = true' if filter_column else '1 = 1' %}
    with

    checked_rows as (
        select * from {{ model }}
        where {{ selected }}
    ),

    violations as (
        {%- for check in checks %}
        select
            checked_rows.*,
            '{{ check.metric }}' as gate_metric,
            cast(checked_rows.{{ check.metric }} as double) as gate_value,
            cast({{ check.floor }} as double) as gate_floor,
            case
                when checked_rows.{{ check.metric }} is null
                    then 'metric_missing'
                else 'below_gate'
            end as gate_failure
        from checked_rows
        where
            cast(checked_rows.{{ group_column }} as {{ dbt.type_string() }})
            = '{{ check.group }}'
            and (
                {%- if check.metric not in optional_metrics %}
                checked_rows.{{ check.metric }} is null
                or
                {%- endif %}
                checked_rows.{{ check.metric }} < {{ check.floor }}
            )
        union all
        {%- endfor %}
        select
            checked_rows.*,
            cast(null as {{ dbt.type_string() }}) as gate_metric,
            cast(null as double) as gate_value,
            cast(null as double) as gate_floor,
            'no_gate' as gate_failure
        from checked_rows
        where
            {{ 'true' if require_gate else 'false' }}
            and (
                checked_rows.{{ group_column }} is null
                or cast(checked_rows.{{ group_column }}
                    as {{ dbt.type_string() }}) not in (
                    {%- for group in gates.keys() %}
                    '{{ group | string | replace("'", "''") }}'
                    {{- ',' if not loop.last }}
                    {%- endfor %}
                )
            )
    )

    select * from violations
{% endmacro %}
