"""Marts: one row per customer, scores as published, audiences as their rules say."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).with_name("dbt")

CUSTOMER_MARTS = ["dim_customers", "fct_customer_scores", "fct_customer_segments"]
MARTS = [*CUSTOMER_MARTS, "fct_audience_members", "dim_audiences"]
BUILTIN_AUDIENCES = [
    "high_value_persuadables",
    "at_risk_high_value",
    "rising_value",
    "lookalike_top_1",
    "lookalike_top_5",
    "lookalike_top_10",
    "high_purchase_intent",
]
# (score table, its columns republished in fct_customer_scores)
SCORE_COLUMNS = {
    "score_churn": ["churn_probability", "churn_reasons", "churn_model_version"],
    "score_purchase_propensity": ["purchase_probability", "purchase_model_version"],
    "score_clv": ["p_alive", "clv_model_kind", "clv_model_version", "is_rising_value"],
    "score_lookalike": [
        "is_lookalike_seed",
        "lookalike_score",
        "lookalike_percentile",
        "lookalike_tier",
        "lookalike_model_version",
    ],
}
CLV_AMOUNTS = [
    "predicted_clv",
    "predicted_clv_p10",
    "predicted_clv_p50",
    "predicted_clv_p90",
]
# version column of fct_customer_scores -> (registry table, model_kind filter)
VERSION_SOURCES = {
    "churn_model_version": ("train_churn", "model_kind = 'churn'"),
    "purchase_model_version": (
        "train_purchase_propensity",
        "model_kind = 'purchase_propensity'",
    ),
    "clv_model_version": (
        "train_clv",
        "model_kind in ('clv_bgnbd', 'clv_gbm', 'clv_blend')",
    ),
    "lookalike_model_version": ("train_lookalike", "model_kind = 'lookalike'"),
    "uplift_model_version": ("train_uplift", "model_kind like 'uplift:%'"),
}


def _scalar(warehouse, sql: str):
    return warehouse.execute(sql).fetchall()[0][0]


@pytest.mark.parametrize("mart", CUSTOMER_MARTS)
def test_one_row_per_feat_customers_customer(warehouse, mart):
    rows, customers = warehouse.execute(
        f"select count(*), count(distinct customer_id) from {mart}"
    ).fetchall()[0]
    assert (
        rows == customers == _scalar(warehouse, "select count(*) from feat_customers")
    )
    unmatched = _scalar(
        warehouse,
        f"""
        select count(*) from (
            (select customer_id from {mart}
             except select customer_id from feat_customers)
            union all
            (select customer_id from feat_customers
             except select customer_id from {mart})
        )
        """,
    )
    assert unmatched == 0, mart


def test_exactly_one_segment_per_customer_as_scored(warehouse):
    assert (
        _scalar(
            warehouse,
            "select count(*) from fct_customer_segments where segment_id is null",
        )
        == 0
    )
    differing = _scalar(
        warehouse,
        """
        select count(*)
        from fct_customer_segments as marts
        inner join score_segments as scores using (customer_id)
        where marts.segment_id is distinct from cast(scores.segment_id as varchar)
            or marts.segment_name is distinct from scores.segment_name
        """,
    )
    assert differing == 0


@pytest.mark.parametrize("table", sorted(SCORE_COLUMNS))
def test_fct_customer_scores_equals_the_score_tables(warehouse, table):
    columns = SCORE_COLUMNS[table]
    differing = " or ".join(
        f"marts.{column} is distinct from scores.{column}" for column in columns
    )
    count = _scalar(
        warehouse,
        f"""
        select count(*)
        from fct_customer_scores as marts
        inner join {table} as scores using (customer_id)
        where {differing}
        """,
    )
    assert count == 0, table


def test_clv_amounts_are_the_score_rounded_to_cents(warehouse):
    differing = " or ".join(
        f"marts.{c} is distinct from cast(scores.{c} as decimal(18, 2))"
        for c in CLV_AMOUNTS
    )
    count = _scalar(
        warehouse,
        f"""
        select count(*)
        from fct_customer_scores as marts
        inner join score_clv as scores using (customer_id)
        where {differing}
        """,
    )
    assert count == 0


def test_uplift_is_the_main_campaign_with_the_latest_assignment(warehouse):
    expected = warehouse.execute(
        """
        select scored.campaign_id
        from (select distinct campaign_id from score_uplift) as scored
        left join (
            select campaign_id, max(assigned_at) as last_assigned_at
            from stg_shop__campaign_assignments
            where assigned_at < (select max(cutoff_date) from feat_customers)
            group by campaign_id
        ) as assignments using (campaign_id)
        order by assignments.last_assigned_at desc nulls last, campaign_id desc
        limit 1
        """
    ).fetchall()
    main = warehouse.execute(
        "select distinct main_campaign_id from fct_customer_scores"
    ).fetchall()
    assert main == (expected or [(None,)])
    differing = _scalar(
        warehouse,
        """
        select count(*)
        from fct_customer_scores as marts
        left join score_uplift as scores
            on marts.customer_id = scores.customer_id
            and marts.main_campaign_id = scores.campaign_id
        where marts.uplift_score is distinct from scores.uplift_score
            or marts.uplift_group is distinct from scores.uplift_group
            or marts.uplift_model_version is distinct from scores.uplift_model_version
        """,
    )
    assert differing == 0


@pytest.mark.parametrize("version_column", sorted(VERSION_SOURCES))
def test_versions_come_only_from_approved_registry_rows(warehouse, version_column):
    registry, kind = VERSION_SOURCES[version_column]
    unapproved = _scalar(
        warehouse,
        f"""
        select count(*) from fct_customer_scores
        where {version_column} is not null
            and {version_column} not in (
                select model_version from {registry}
                where status = 'approved' and {kind}
            )
        """,
    )
    assert unapproved == 0, version_column


def test_every_published_score_names_its_model(warehouse):
    pairs = {
        "churn_probability": "churn_model_version",
        "purchase_probability": "purchase_model_version",
        "predicted_clv": "clv_model_version",
        "lookalike_score": "lookalike_model_version",
        "uplift_score": "uplift_model_version",
    }
    for score, version in pairs.items():
        unnamed = _scalar(
            warehouse,
            f"select count(*) from fct_customer_scores "
            f"where {score} is not null and {version} is null",
        )
        assert unnamed == 0, score


def test_value_tiers_follow_the_clv_ranking(warehouse):
    bounds = dict(
        warehouse.execute(
            """
            select segments.value_tier,
                [min(scores.predicted_clv), max(scores.predicted_clv)]
            from fct_customer_segments as segments
            inner join fct_customer_scores as scores using (customer_id)
            where segments.value_tier != 'unscored'
            group by segments.value_tier
            """
        ).fetchall()
    )
    assert set(bounds) == {"high", "medium", "low"}
    assert bounds["high"][0] > bounds["medium"][1]
    assert bounds["medium"][0] > bounds["low"][1]
    high_share = _scalar(
        warehouse,
        "select avg(case when value_tier = 'high' then 1.0 else 0 end) "
        "from fct_customer_segments",
    )
    assert 0.15 <= high_share <= 0.2


# audience -> the same rule written directly in SQL over the marts
AUDIENCE_SQL = {
    "at_risk_high_value": (
        "select customer_id from fct_customer_segments "
        "where value_tier = 'high' and churn_risk_band = 'high'"
    ),
    "lookalike_top_5": (
        "select customer_id from fct_customer_scores where lookalike_tier <= 5"
    ),
    "high_purchase_intent": (
        "select customer_id from fct_customer_scores where purchase_probability >= 0.5"
    ),
    "rising_value": "select customer_id from fct_customer_scores where is_rising_value",
}


@pytest.mark.parametrize("audience_id", sorted(AUDIENCE_SQL))
def test_audience_members_are_the_rule_applied_in_sql(warehouse, audience_id):
    members = {
        row[0]
        for row in warehouse.execute(
            "select customer_id from fct_audience_members where audience_id = ?",
            [audience_id],
        ).fetchall()
    }
    expected = {
        row[0] for row in warehouse.execute(AUDIENCE_SQL[audience_id]).fetchall()
    }
    assert members == expected
    if audience_id != "rising_value":
        assert members, (
            f"{audience_id} is empty on the CI data: the test proves nothing"
        )
    count = warehouse.execute(
        "select member_count from dim_audiences where audience_id = ?", [audience_id]
    ).fetchall()
    assert count == [(len(members),)]


@pytest.mark.parametrize("audience_id", BUILTIN_AUDIENCES)
def test_audience_columns_equal_the_membership_table(warehouse, audience_id):
    differing = _scalar(
        warehouse,
        f"""
        select count(*)
        from fct_customer_segments as segments
        left join (
            select customer_id from fct_audience_members
            where audience_id = '{audience_id}'
        ) as members using (customer_id)
        where segments.is_in_{audience_id} != (members.customer_id is not null)
        """,
    )
    assert differing == 0, audience_id


def test_every_score_and_mart_column_has_a_real_type(warehouse):
    untyped = warehouse.execute(
        """
        select table_name, column_name from information_schema.columns
        where (table_name like 'score\\_%' escape '\\'
               or table_name in ('dim_customers', 'fct_customer_scores',
                   'fct_customer_segments', 'fct_audience_members',
                   'dim_audiences'))
            and upper(data_type) like '%NULL%'
        """
    ).fetchall()
    assert untyped == []


def test_a_plain_duckdb_client_reads_the_marts(warehouse):
    path = _scalar(
        warehouse,
        "select path from duckdb_databases() where database_name = current_database()",
    )
    script = (
        "import sys, duckdb\n"
        "connection = duckdb.connect(sys.argv[1], read_only=True)\n"
        "for table in sys.argv[2:]:\n"
        "    rows = connection.execute(f'select count(*) from {table}').fetchall()\n"
        "    print(table, rows[0][0])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, path, *MARTS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    counts = dict(line.split() for line in result.stdout.splitlines())
    assert set(counts) == set(MARTS)
    assert all(int(counts[mart]) > 0 for mart in MARTS), counts


def test_an_invalid_audience_rule_stops_the_build_naming_it(tmp_path):
    """A marketer's typo in seeds/audience_rules.csv fails with what to fix."""
    project = tmp_path / "project"
    shutil.copytree(
        PROJECT_DIR,
        project,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "target", "logs", "data", "dbt_packages", "*.duckdb*"
        ),
    )
    rules = project / "seeds" / "audience_rules.csv"
    rules.write_text(
        rules.read_text() + "vip_women,VIP women,,gender,=,female\n", encoding="utf-8"
    )
    env = {
        **os.environ,
        "SEGMENTS_DB": str(tmp_path / "rules.duckdb"),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    results = [
        subprocess.run(
            [str(DBT), *args, "--profiles-dir", ".", "--project-dir", "."],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        for args in (
            ["seed", "--select", "audience_rules"],
            ["compile", "--select", "fct_audience_members"],
        )
    ]
    assert results[0].returncode == 0, results[0].stdout[-2000:]
    assert results[1].returncode != 0
    assert (
        "seeds/audience_rules.csv, audience 'vip_women', rule 'gender = female': "
        "unknown column 'gender'" in results[1].stdout
    ), results[1].stdout[-2000:]
