"""Registry: version ids, gates and the choice of the serving model."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest

from predictive_segments import registry


def _frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=50), "y": rng.integers(0, 2, 50)})


def test_version_is_stable_for_equal_inputs_and_changes_with_any_input():
    fingerprint = registry.data_fingerprint(_frame(1))
    base = registry.model_version("churn", {"depth": 4}, ["a", "b"], fingerprint, "c1")
    assert base == registry.model_version(
        "churn", {"depth": 4}, ["a", "b"], registry.data_fingerprint(_frame(1)), "c1"
    )
    variants = [
        registry.model_version(
            "propensity", {"depth": 4}, ["a", "b"], fingerprint, "c1"
        ),
        registry.model_version("churn", {"depth": 5}, ["a", "b"], fingerprint, "c1"),
        registry.model_version("churn", {"depth": 4}, ["b", "a"], fingerprint, "c1"),
        registry.model_version(
            "churn",
            {"depth": 4},
            ["a", "b"],
            registry.data_fingerprint(_frame(2)),
            "c1",
        ),
        registry.model_version("churn", {"depth": 4}, ["a", "b"], fingerprint, "c2"),
    ]
    assert base not in variants
    assert len(set(variants)) == len(variants)


def test_fingerprint_sees_row_order_and_single_values():
    frame = _frame(3)
    changed = frame.copy()
    changed.loc[7, "x"] += 1e-9
    assert registry.data_fingerprint(frame) != registry.data_fingerprint(changed)
    assert registry.data_fingerprint(frame) != registry.data_fingerprint(
        frame.iloc[::-1]
    )


def test_gates_approve_only_when_every_gate_holds():
    ok = registry.evaluate_gates(
        {"auc": 0.8, "brier": 0.1}, {"auc": 0.65}, {"brier": 0.2}
    )
    assert ok == registry.GateResult(registry.APPROVED)
    low = registry.evaluate_gates({"auc": 0.52}, {"auc": 0.65})
    assert low.status == registry.REJECTED
    assert "auc 0.52 < gate 0.65" in low.reason
    missing = registry.evaluate_gates({"auc": math.nan}, {"auc": 0.65})
    assert missing.status == registry.REJECTED
    assert "not a number" in missing.reason


def test_latest_approved_skips_rejected_and_prefers_newest():
    rows = pd.DataFrame(
        {
            "model_kind": ["churn", "churn", "churn", "clv"],
            "status": ["approved", "approved", "rejected", "approved"],
            "model_version": ["v1", "v2", "v3", "c1"],
            "trained_at": pd.to_datetime(
                ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]
            ),
        }
    )
    assert registry.latest_approved(rows, "churn")["model_version"] == "v2"
    assert registry.latest_approved(rows, "uplift") is None


def test_rows_need_a_reason_unless_approved():
    with pytest.raises(ValueError, match="needs a reason"):
        registry.registry_row(
            kind="churn",
            status="rejected",
            reason=None,
            as_of_date="2026-01-01",
            training_cutoff="2025-10-01",
            parameters={},
            features=[],
            metrics={},
            fingerprint="f",
            artifact=None,
            run_id="r",
            trained_at=None,
        )


def test_canonical_json_is_order_free_and_drops_non_finite_numbers():
    assert registry.canonical_json(
        {"b": 1, "a": np.float64("nan")}
    ) == registry.canonical_json({"a": None, "b": 1})


class _Dbt:
    """The two attributes of a dbt Python model's ``dbt`` object that
    ``skip_training`` reads."""

    def __init__(self, this: str, is_incremental: bool) -> None:
        self.this = this
        self.is_incremental = is_incremental


def test_skip_training_appends_nothing_once_a_model_was_trained():
    # retrain false: no row, whatever the statuses so far (the score tables
    # say when none is approved), and the registry's schema for the append.
    session = duckdb.connect()
    session.execute(
        "create table train_churn as select 'churn' as model_kind, 'rejected' as status"
    )
    table = registry.skip_training(
        _Dbt("train_churn", True), session, "train_churn", "churn"
    )
    assert table.num_rows == 0
    assert table.schema.names == registry.REGISTRY_COLUMNS
    assert table.schema == registry.to_arrow([]).schema


@pytest.mark.parametrize("exists", [False, True])
def test_skip_training_stops_when_nothing_was_ever_trained(exists):
    # Not incremental yet (no table), or a table without a row.
    session = duckdb.connect()
    session.execute("create table train_clv (model_kind varchar)")
    with pytest.raises(ValueError) as raised:
        registry.skip_training(_Dbt("train_clv", exists), session, "train_clv", "CLV")
    message = str(raised.value)
    assert message.startswith("train_clv: retrain is false")
    assert "no CLV model has ever been trained" in message
    assert "retrain true" in message
