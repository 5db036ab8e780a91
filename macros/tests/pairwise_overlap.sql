{#
    Overlap of groups in a membership table (one row per member per group,
    e.g. customer_id + audience_id): passes when no two different groups of
    `group_column` have a Jaccard index (shared members / members of either)
    above `max_jaccard`. max_jaccard 0 means the groups are exclusive.
    `exceptions` lists the pairs allowed to overlap more, e.g. nested tiers,
    as [[group_a, group_b], ...] in either order. Rows with a null member or
    group are ignored; a member counts once per group. Returns one row per
    offending pair (group_a < group_b) with both sizes, the intersection,
    the union and the Jaccard index.
#}
{% test pairwise_overlap(model, member_column, group_column, max_jaccard, exceptions=[]) %}
    {{ return(adapter.dispatch('test_pairwise_overlap', 'predictive_segments')(model, member_column, group_column, max_jaccard, exceptions)) }}
{% endtest %}

{#- `exceptions` is renamed: it would hide dbt's exceptions module. #}
{% macro default__test_pairwise_overlap(model, member_column, group_column, max_jaccard, allowed_pairs) %}
    {%- set test_name = "pairwise_overlap on " ~ model -%}
    {%- if not member_column or not group_column -%}
        {{ exceptions.raise_compiler_error(
            test_name ~ ": set `member_column` (the member key, e.g. "
            ~ "customer_id) and `group_column` (the group key, e.g. "
            ~ "audience_id).") }}
    {%- endif -%}
    {%- set limit = max_jaccard | float(-1) -%}
    {%- if max_jaccard is none or max_jaccard is boolean
        or not (0 <= limit <= 1) -%}
        {{ exceptions.raise_compiler_error(
            test_name ~ ": `max_jaccard` must be a number from 0 to 1 (got "
            ~ max_jaccard ~ "); 0 means the groups are exclusive.") }}
    {%- endif -%}
    {%- set allowed = allowed_pairs -%}
    {%- if allowed is none -%}
        {%- set allowed = [] -%}
    {%- elif allowed is string -%}
        {#- A var rendered into the YAML arrives as text: parse it back. -#}
        {%- set allowed = fromyaml(allowed) or [] -%}
    {%- endif -%}
    {%- set pairs = [] -%}
    {%- for pair in allowed -%}
        {%- if pair is string or pair is mapping or pair | length != 2 -%}
            {{ exceptions.raise_compiler_error(
                test_name ~ ": every entry of `exceptions` must be a pair "
                ~ "of groups, [group_a, group_b] (got " ~ pair ~ "), e.g. "
                ~ "[[lookalike_top_5, lookalike_top_10]].") }}
        {%- endif -%}
        {%- set ordered = pair | map('string') | sort -%}
        {%- do pairs.append(ordered) -%}
    {%- endfor %}
    with

    memberships as (
        select distinct
            cast({{ group_column }} as {{ dbt.type_string() }}) as group_id,
            {{ member_column }} as member_id
        from {{ model }}
        where
            {{ group_column }} is not null
            and {{ member_column }} is not null
    ),

    group_sizes as (
        select
            memberships.group_id,
            count(*) as members
        from memberships
        group by memberships.group_id
    ),

    intersections as (
        select
            memberships_a.group_id as group_a,
            memberships_b.group_id as group_b,
            count(*) as intersection_count
        from memberships as memberships_a
        inner join memberships as memberships_b
            on
                memberships_a.member_id = memberships_b.member_id
                and memberships_a.group_id < memberships_b.group_id
        group by memberships_a.group_id, memberships_b.group_id
    ),

    pair_overlaps as (
        select
            intersections.group_a,
            intersections.group_b,
            sizes_a.members as members_a,
            sizes_b.members as members_b,
            intersections.intersection_count,
            sizes_a.members + sizes_b.members
            - intersections.intersection_count as union_count,
            cast(intersections.intersection_count as double)
            / (
                sizes_a.members + sizes_b.members
                - intersections.intersection_count
            ) as jaccard
        from intersections
        inner join group_sizes as sizes_a
            on intersections.group_a = sizes_a.group_id
        inner join group_sizes as sizes_b
            on intersections.group_b = sizes_b.group_id
    )

    select
        pair_overlaps.*,
        {{ limit }} as max_jaccard
    from pair_overlaps
    where
        pair_overlaps.jaccard > {{ limit }}
        {%- for pair in pairs %}
        and not (
            pair_overlaps.group_a = '{{ pair[0] | replace("'", "''") }}'
            and pair_overlaps.group_b = '{{ pair[1] | replace("'", "''") }}'
        )
        {%- endfor %}
{% endmacro %}
