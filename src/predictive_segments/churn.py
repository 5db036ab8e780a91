"""Training runs and scoring for "will the customer do X in the window" models.

Churn (no purchase within ``churn_window_days``) and purchase propensity (a
purchase within ``propensity_window_days``) share this machinery; they differ
in their labels and populations, which the dbt models choose.

Time: label windows come from consecutive past cutoffs (``window_index`` 1 is
the window ending on as_of_date, 2 the one before). The model trains on window
2, calibrates on half of the customers of window 1 and is evaluated on the
other half, so every metric is measured on data later than the training data.
It then scores the features as of as_of_date.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import registry
from .classifier import ProbabilityModel, check_eligibility
from .features import feature_columns, feature_label, varying_columns

KEY_COLUMNS = ("customer_id", "cutoff_date", "window_index")


def split_examples(
    examples: pd.DataFrame, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(train, calibration, holdout): window 2 trains; window 1 is halved at random.

    The halving is seeded and independent of row order (customers are sorted
    by id first), so equal data and seed give equal splits.
    """
    train = examples[examples["window_index"] == 2]
    later = examples[examples["window_index"] == 1].sort_values("customer_id")
    in_holdout = np.random.default_rng(seed).random(len(later)) < 0.5
    return (
        train.sort_values("customer_id"),
        later[~in_holdout],
        later[in_holdout],
    )


def train_probability_run(
    examples: pd.DataFrame,
    *,
    kind: str,
    label_column: str,
    as_of_date: Any,
    run_id: str,
    trained_at: Any,
    min_auc: float,
    seed: int = 0,
    nthread: int = 1,
    min_class_examples: int = 100,
    shuffle_labels: bool = False,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train, calibrate, evaluate and gate one model; returns its registry row.

    ``examples`` has the key columns, ``label_column`` (0/1) and the features
    (every other non-bookkeeping column). ``shuffle_labels`` permutes the
    training labels (a check that the quality gate rejects a model without
    signal). Never raises for lack of data: the row then says
    ``insufficient_data`` and why.
    """
    missing = [c for c in (*KEY_COLUMNS, label_column) if c not in examples.columns]
    if missing:
        raise ValueError(f"training examples lack columns {', '.join(missing)}")
    features = feature_columns(c for c in examples.columns if c != label_column)
    parameters = {
        "label": label_column,
        "seed": seed,
        "min_auc": min_auc,
        "min_class_examples": min_class_examples,
        "shuffle_labels": shuffle_labels,
        **(params or {}),
    }
    train, calibration, holdout = split_examples(examples, seed)
    row = {
        "kind": kind,
        "as_of_date": as_of_date,
        "training_cutoff": train["cutoff_date"].min() if len(train) else None,
        "parameters": parameters,
        "features": features,
        "fingerprint": registry.data_fingerprint(
            examples[[*KEY_COLUMNS, label_column, *features]]
        ),
        "run_id": run_id,
        "trained_at": trained_at,
    }
    y_train = train[label_column].to_numpy(dtype=float)
    if shuffle_labels:
        y_train = np.random.default_rng(seed + 1).permutation(y_train)

    problems = []
    if examples.empty:
        problems.append(
            "no training examples: no customers at the past label cutoffs (no "
            "orders or customers before as_of_date, or a history shorter than "
            "two label windows)"
        )
    for name, labels, minimum in (
        ("training", y_train, min_class_examples),
        ("calibration", calibration[label_column].to_numpy(dtype=float), 10),
        ("holdout", holdout[label_column].to_numpy(dtype=float), 10),
    ):
        if labels.size == 0:
            if not examples.empty:
                problems.append(f"{name}: no examples (needs two past label windows)")
            continue
        ok, reason = check_eligibility(labels, minimum, minimum)
        if not ok:
            problems.append(f"{name}: {reason}")
    # ProbabilityModel.fit drops all-null and constant columns and refuses
    # when none is left: say so here instead of failing the build.
    usable = varying_columns(train, features)
    if len(train) and not usable:
        problems.append(
            f"training: none of the {len(features)} features varies (each is "
            "all null or constant)"
        )
    if problems:
        return registry.registry_row(
            **row,
            status=registry.INSUFFICIENT_DATA,
            reason="; ".join(problems),
            metrics={"training_examples": len(train), "holdout_examples": len(holdout)},
            artifact=None,
        )

    model = ProbabilityModel(params=params, seed=seed, nthread=nthread)
    model.fit(
        train[features],
        y_train,
        calibration[features],
        calibration[label_column].to_numpy(dtype=float),
    )
    metrics = model.evaluate(
        holdout[features], holdout[label_column].to_numpy(dtype=float)
    )
    metrics.update(
        training_examples=len(train),
        calibration_examples=len(calibration),
        holdout_examples=len(holdout),
        dropped_features=model.dropped_features_,
    )
    gate = registry.evaluate_gates(metrics, {"auc": min_auc})
    return registry.registry_row(
        **row,
        status=gate.status,
        reason=gate.reason,
        metrics=metrics,
        artifact=model.to_bytes(),
    )


def score_probability_model(
    registry_rows: pd.DataFrame,
    features: pd.DataFrame,
    *,
    kind: str,
    eligible: np.ndarray,
    ineligible_reason: str,
    with_reasons: bool = False,
) -> pd.DataFrame:
    """Score ``features`` with the latest approved model of ``kind``.

    Returns one row per input row: customer_id, probability (null when the
    customer is not eligible or no model is approved), reasons (top three, when
    asked), model_version and score_note (why a probability is null).
    """
    out = pd.DataFrame({"customer_id": features["customer_id"].to_numpy()})
    out["probability"] = np.nan
    out["reasons"] = None
    out["model_version"] = None
    out["score_note"] = None
    serving = registry.latest_approved(registry_rows, kind)
    if serving is None:
        out["score_note"] = registry.no_model_note(registry_rows, kind)
        return out
    model = ProbabilityModel.from_bytes(bytes(serving["artifact"]))
    eligible = np.asarray(eligible, dtype=bool)
    rows = features[eligible]
    if len(rows):
        out.loc[eligible, "probability"] = model.predict_proba(rows)
        if with_reasons:
            labels = {name: feature_label(name) for name in model.feature_names_}
            out.loc[eligible, "reasons"] = model.reasons(rows, labels=labels).to_numpy()
    out.loc[eligible, "model_version"] = serving["model_version"]
    out.loc[~eligible, "score_note"] = ineligible_reason
    return out
