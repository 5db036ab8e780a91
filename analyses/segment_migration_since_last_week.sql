-- Migration since last week: where did each segment's customers go between
-- the two newest as_of_dates in the segment history (rpt_segment_migration,
-- one week apart when the warehouse is rebuilt weekly)? One row per
-- from-segment and to-segment with the customers who moved and their share of
-- the from-segment; is_same_segment marks those who stayed. A from_segment_id
-- that is null holds customers new at the later date. No rows until the
-- warehouse has been built at two as_of_dates.
with

migration as (
    select * from {{ ref('rpt_segment_migration') }}
),

latest_pair as (
    select max(migration.to_as_of_date) as to_as_of_date
    from migration
),

final as (
    select
        migration.from_segment_id,
        migration.from_segment_name,
        migration.to_segment_id,
        migration.to_segment_name,
        migration.customers,
        migration.share_of_from,
        coalesce(
            migration.from_segment_id = migration.to_segment_id, false
        ) as is_same_segment,
        migration.from_as_of_date,
        migration.to_as_of_date
    from migration
    inner join latest_pair
        on migration.to_as_of_date = latest_pair.to_as_of_date
)

select * from final
order by
    from_segment_id asc nulls first,
    customers desc,
    to_segment_id asc
