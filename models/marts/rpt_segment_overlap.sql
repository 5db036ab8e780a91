{#-
    Pairwise overlap of every two groups as of as_of_date, where a group is
    an audience (dim_audiences, members in fct_audience_members) or a
    primary segment (fct_customer_segments): members of each, intersection,
    union and Jaccard index. Both orders of each pair, no self-pairs, so a
    BI tool can filter on group_a alone.
-#}
with

audiences as (
    select * from {{ ref('dim_audiences') }}
),

audience_members as (
    select * from {{ ref('fct_audience_members') }}
),

segments as (
    select * from {{ ref('fct_customer_segments') }}
),

audience_groups as (
    select
        'audience' as group_kind,
        audiences.audience_id as group_id,
        audiences.audience_name as group_name
    from audiences
),

segment_groups as (
    select
        'segment' as group_kind,
        segments.segment_id as group_id,
        max(segments.segment_name) as group_name
    from segments
    where segments.segment_id is not null
    group by segments.segment_id
),

all_groups as (
    select * from audience_groups
    union all
    select * from segment_groups
),

memberships as (
    select
        'audience' as group_kind,
        audience_members.audience_id as group_id,
        audience_members.customer_id
    from audience_members
    union all
    select
        'segment' as group_kind,
        segments.segment_id as group_id,
        segments.customer_id
    from segments
    where segments.segment_id is not null
),

group_sizes as (
    select
        all_groups.group_kind,
        all_groups.group_id,
        all_groups.group_name,
        count(memberships.customer_id) as members
    from all_groups
    left join memberships
        on
            all_groups.group_kind = memberships.group_kind
            and all_groups.group_id = memberships.group_id
    group by all_groups.group_kind, all_groups.group_id, all_groups.group_name
),

intersections as (
    select
        memberships_a.group_kind as group_a_kind,
        memberships_a.group_id as group_a_id,
        memberships_b.group_kind as group_b_kind,
        memberships_b.group_id as group_b_id,
        count(*) as intersection_count
    from memberships as memberships_a
    inner join memberships as memberships_b
        on memberships_a.customer_id = memberships_b.customer_id
    group by
        memberships_a.group_kind,
        memberships_a.group_id,
        memberships_b.group_kind,
        memberships_b.group_id
),

pairs as (
    select
        groups_a.group_kind as group_a_kind,
        groups_a.group_id as group_a_id,
        groups_a.group_name as group_a_name,
        groups_b.group_kind as group_b_kind,
        groups_b.group_id as group_b_id,
        groups_b.group_name as group_b_name,
        groups_a.members as members_a,
        groups_b.members as members_b,
        coalesce(intersections.intersection_count, 0) as intersection_count
    from group_sizes as groups_a
    inner join group_sizes as groups_b
        on
            groups_a.group_kind != groups_b.group_kind
            or groups_a.group_id != groups_b.group_id
    left join intersections
        on
            groups_a.group_kind = intersections.group_a_kind
            and groups_a.group_id = intersections.group_a_id
            and groups_b.group_kind = intersections.group_b_kind
            and groups_b.group_id = intersections.group_b_id
),

final as (
    select
        cast(pairs.group_a_kind as {{ dbt.type_string() }}) as group_a_kind,
        cast(pairs.group_a_id as {{ dbt.type_string() }}) as group_a_id,
        cast(pairs.group_b_kind as {{ dbt.type_string() }}) as group_b_kind,
        cast(pairs.group_b_id as {{ dbt.type_string() }}) as group_b_id,
        cast(pairs.group_a_name as {{ dbt.type_string() }}) as group_a_name,
        cast(pairs.group_b_name as {{ dbt.type_string() }}) as group_b_name,
        cast(pairs.members_a as {{ dbt.type_bigint() }}) as members_a,
        cast(pairs.members_b as {{ dbt.type_bigint() }}) as members_b,
        cast(pairs.intersection_count as {{ dbt.type_bigint() }})
            as intersection_count,
        cast(
            pairs.members_a + pairs.members_b - pairs.intersection_count
            as {{ dbt.type_bigint() }}
        ) as union_count,
        cast(
            pairs.intersection_count * 1.0
            / nullif(
                pairs.members_a + pairs.members_b - pairs.intersection_count,
                0
            )
            as double
        ) as jaccard,
        cast(
            pairs.intersection_count * 1.0 / nullif(pairs.members_a, 0)
            as double
        ) as share_of_a_in_b,
        {{ date_literal(as_of_date()) }} as as_of_date
    from pairs
)

select * from final
