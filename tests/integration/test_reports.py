"""Report marts (rpt_*): checked against independent SQL on the fct_* tables."""

from __future__ import annotations

import pytest

REGISTRIES = [
    "train_churn",
    "train_purchase_propensity",
    "train_clv",
    "train_segments",
    "train_lookalike",
    "train_uplift",
]


def _scalar(warehouse, sql: str):
    return warehouse.execute(sql).fetchall()[0][0]


@pytest.mark.parametrize("level", ["segment", "micro_segment"])
def test_summary_counts_sum_to_the_customers(warehouse, level):
    customers = _scalar(warehouse, "select count(*) from fct_customer_segments")
    total, share = warehouse.execute(
        "select sum(customers), sum(customer_share) from rpt_segment_summary "
        f"where summary_level = '{level}'"
    ).fetchone()
    assert total == customers
    assert share == pytest.approx(1.0)


def test_summary_segment_rows_match_fct_customer_segments(warehouse):
    expected = dict(
        warehouse.execute(
            "select coalesce(segment_id, 'unassigned'), count(*) "
            "from fct_customer_segments group by 1"
        ).fetchall()
    )
    reported = dict(
        warehouse.execute(
            "select group_id, customers from rpt_segment_summary "
            "where summary_level = 'segment'"
        ).fetchall()
    )
    assert reported == expected


def test_summary_revenue_at_risk_recomputed(warehouse):
    expected = _scalar(
        warehouse,
        "select coalesce(sum(predicted_clv * churn_probability), 0) "
        "from fct_customer_scores",
    )
    reported = _scalar(
        warehouse,
        "select sum(predicted_revenue_at_risk) from rpt_segment_summary "
        "where summary_level = 'segment'",
    )
    segments = _scalar(
        warehouse,
        "select count(*) from rpt_segment_summary where summary_level = 'segment'",
    )
    # Rounded to cents per segment.
    assert float(reported) == pytest.approx(float(expected), abs=0.005 * segments)


def test_overlap_has_no_self_pairs(warehouse):
    self_pairs = warehouse.execute(
        "select jaccard from rpt_segment_overlap "
        "where group_a_kind = group_b_kind and group_a_id = group_b_id"
    ).fetchall()
    assert all(row[0] == pytest.approx(1.0) for row in self_pairs)


def test_segments_do_not_overlap(warehouse):
    pairs, overlapping = warehouse.execute(
        "select count(*), count(*) filter (where intersection_count > 0) "
        "from rpt_segment_overlap "
        "where group_a_kind = 'segment' and group_b_kind = 'segment'"
    ).fetchone()
    segments = _scalar(
        warehouse,
        "select count(distinct segment_id) from fct_customer_segments",
    )
    assert pairs == segments * (segments - 1)
    assert overlapping == 0


def test_overlap_jaccard_recomputed_for_one_audience_pair(warehouse):
    audience_a, audience_b = warehouse.execute(
        "select min(audience_id), max(audience_id) from fct_audience_members"
    ).fetchone()
    if audience_a is None or audience_a == audience_b:
        pytest.skip("fewer than two non-empty audiences in the CI warehouse")
    members = "select customer_id from fct_audience_members where audience_id = '{}'"
    a_ids = {row[0] for row in warehouse.execute(members.format(audience_a)).fetchall()}
    b_ids = {row[0] for row in warehouse.execute(members.format(audience_b)).fetchall()}
    for first, second, first_ids, second_ids in [
        (audience_a, audience_b, a_ids, b_ids),
        (audience_b, audience_a, b_ids, a_ids),
    ]:
        row = warehouse.execute(
            "select members_a, members_b, intersection_count, union_count, "
            "jaccard from rpt_segment_overlap "
            "where group_a_kind = 'audience' and group_b_kind = 'audience' "
            "and group_a_id = ? and group_b_id = ?",
            [first, second],
        ).fetchone()
        assert row is not None, (first, second)
        assert row[:4] == (
            len(first_ids),
            len(second_ids),
            len(first_ids & second_ids),
            len(first_ids | second_ids),
        )
        assert row[4] == pytest.approx(
            len(first_ids & second_ids) / len(first_ids | second_ids)
        )


def test_model_quality_has_one_row_per_registry_row(warehouse):
    for registry in REGISTRIES:
        expected = _scalar(warehouse, f"select count(*) from {registry}")
        reported = _scalar(
            warehouse,
            "select count(*) from rpt_model_quality "
            f"where registry_model = '{registry}'",
        )
        assert reported == expected, registry


def test_model_quality_serving_versions_are_published(warehouse):
    # At most one serving row per kind (one for both CLV kinds).
    duplicated = warehouse.execute(
        "select case when model_family = 'clv' then 'clv' else model_kind end, "
        "count(*) from rpt_model_quality where is_serving group by 1 "
        "having count(*) > 1"
    ).fetchall()
    assert duplicated == []
    published = {
        "churn": "churn_model_version",
        "purchase_propensity": "purchase_model_version",
        "clv": "clv_model_version",
        "lookalike": "lookalike_model_version",
    }
    for family, column in published.items():
        serving = warehouse.execute(
            "select model_version from rpt_model_quality "
            f"where is_serving and model_family = '{family}'"
        ).fetchall()
        versions = warehouse.execute(
            f"select distinct {column} from fct_customer_scores "
            f"where {column} is not null"
        ).fetchall()
        assert sorted(serving) == sorted(versions), family


def test_fairness_ratio_and_flag(warehouse):
    threshold = _scalar(warehouse, "select max(min_disparate_impact) from rpt_fairness")
    rows = warehouse.execute(
        "select disparate_impact_ratio, is_below_min_disparate_impact from rpt_fairness"
    ).fetchall()
    assert rows
    for ratio, flag in rows:
        if ratio is None:
            assert flag is False
        else:
            assert ratio <= 1 + 1e-12
            assert flag == (ratio < threshold)


def test_fairness_inclusion_rate_recomputed(warehouse):
    row = warehouse.execute(
        "select audience_id, count(*) from fct_audience_members "
        "group by audience_id order by count(*) desc, audience_id limit 1"
    ).fetchone()
    if row is None:
        pytest.skip("no audience has members in the CI warehouse")
    audience_id = row[0]
    expected = dict(
        warehouse.execute(
            "select coalesce(c.gender, 'unknown'), "
            "avg(case when m.customer_id is not null then 1.0 else 0.0 end) "
            "from dim_customers as c left join fct_audience_members as m "
            "on c.customer_id = m.customer_id and m.audience_id = ? group by 1",
            [audience_id],
        ).fetchall()
    )
    reported = dict(
        warehouse.execute(
            "select group_value, inclusion_rate from rpt_fairness "
            "where attribute_name = 'gender' and audience_id = ?",
            [audience_id],
        ).fetchall()
    )
    assert reported.keys() == expected.keys()
    for group, rate in expected.items():
        assert reported[group] == pytest.approx(float(rate)), group


def test_budget_allocation_funded_cost_within_budget(warehouse):
    rows = warehouse.execute(
        "select unit_kind, max(campaign_budget), "
        "coalesce(sum(contact_cost) filter (where is_funded), 0) "
        "from rpt_budget_allocation group by unit_kind"
    ).fetchall()
    assert {row[0] for row in rows} <= {"audience", "micro_segment"}
    for unit_kind, budget, funded_cost in rows:
        assert funded_cost <= budget, unit_kind


def test_budget_allocation_is_a_prefix_of_the_ranking(warehouse):
    # Greedy: funded units come first in budget_rank within each kind.
    violations = _scalar(
        warehouse,
        "select count(*) from rpt_budget_allocation as funded "
        "join rpt_budget_allocation as skipped "
        "on funded.unit_kind = skipped.unit_kind "
        "and skipped.budget_rank < funded.budget_rank "
        "where funded.is_funded and not skipped.is_funded",
    )
    assert violations == 0


def test_budget_allocation_revenue_recomputed_for_micro_segments(warehouse):
    expected = _scalar(
        warehouse,
        "with mean_value as (select avg(avg_order_value) as v from feat_customers) "
        "select coalesce(sum(greatest(s.uplift_score, 0) "
        "* coalesce(f.avg_order_value, mean_value.v)), 0) "
        "from fct_customer_scores as s "
        "join fct_customer_segments as g on s.customer_id = g.customer_id "
        "join feat_customers as f on s.customer_id = f.customer_id "
        "cross join mean_value where g.micro_segment is not null",
    )
    reported = _scalar(
        warehouse,
        "select sum(expected_incremental_revenue) from rpt_budget_allocation "
        "where unit_kind = 'micro_segment'",
    )
    units = _scalar(
        warehouse,
        "select count(*) from rpt_budget_allocation where unit_kind = 'micro_segment'",
    )
    assert float(reported) == pytest.approx(float(expected), abs=0.005 * units + 1e-9)
