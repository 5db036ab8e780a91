"""Training runs and scoring for "will the customer do X in the window" models.

Churn (no purchase within ``churn_window_days``) and purchase propensity (a
purchase within ``propensity_window_days``) share this machinery; they differ
in their labels and populations, which the dbt models choose.

Time: label windows come from consecutive past cutoffs (``window_index`` 1 is
the window ending on as_of_date, 2 the one before). The model trains on window
2, calibrates on half of the customers of window 1 and is evaluated on the
other half, so every metric is measured on data later than the training data.
It then scores the features as of as_of_date.

When the history is too short for those windows (the supervised model is
``insufficient_data``), :func:`train_family_run` climbs down the ladder of
:mod:`predictive_segments.ladder`: BG/NBD on the order history serves, with
its own backtest and gate.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from . import ladder, prospects, registry
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
    if "method" not in parameters:
        parameters["method"] = ladder.SUPERVISED_METHOD
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
        method=parameters["method"],
        validated_horizon_days=_window_days(holdout),
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


def _window_days(examples: pd.DataFrame) -> int | None:
    """The label window of ``examples`` (their window_days column), if known."""
    if "window_days" not in examples.columns or examples.empty:
        return None
    return int(examples["window_days"].iloc[0])


#: The BG/NBD event that each classifier kind predicts.
BGNBD_EVENTS = {"churn": "no_purchase", "purchase_propensity": "purchase"}


def train_family_run(
    examples: pd.DataFrame,
    orders: pd.DataFrame,
    *,
    kind: str,
    label_column: str,
    window_days: int,
    as_of_date: Any,
    run_id: str,
    trained_at: Any,
    min_auc: float,
    seed: int = 0,
    nthread: int = 1,
    min_class_examples: int = 100,
    shuffle_labels: bool = False,
    prospect_examples: prospects.Examples | None = None,
) -> dict[str, Any]:
    """The registry row of one training run of a classifier family.

    The supervised model (:func:`train_probability_run`) when its label
    windows give enough examples; when they do not (``insufficient_data``),
    the BG/NBD rung of the ladder on ``orders`` (DataFrame[customer_id,
    order_date, amount], the non-cancelled staged orders), which predicts
    the same event over ``window_days``. A supervised model that trained
    but failed its gate stays rejected: the ladder is for missing history,
    not for weak models. Purchase propensity's BG/NBD rung also learns from
    ``prospect_examples`` (``ml_prospect_examples``, or a function that
    reads them: only this rung does) to score the customers without a
    purchase (:mod:`predictive_segments.prospects`).
    """
    row = train_probability_run(
        examples,
        kind=kind,
        label_column=label_column,
        as_of_date=as_of_date,
        run_id=run_id,
        trained_at=trained_at,
        min_auc=min_auc,
        seed=seed,
        nthread=nthread,
        min_class_examples=min_class_examples,
        shuffle_labels=shuffle_labels,
    )
    if row["status"] != registry.INSUFFICIENT_DATA:
        return row
    row = ladder.bgnbd_probability_run(
        orders,
        kind=kind,
        event=BGNBD_EVENTS[kind],
        window_days=window_days,
        as_of_date=as_of_date,
        run_id=run_id,
        trained_at=trained_at,
        min_auc=min_auc,
        min_class_examples=min_class_examples,
        supervised_reason=row["reason"],
    )
    if prospect_examples is not None and BGNBD_EVENTS[kind] == "purchase":
        prospects.fit_and_attach(
            row,
            prospect_examples,
            min_auc=min_auc,
            seed=seed,
            nthread=nthread,
            min_class_examples=min_class_examples,
        )
    return row


def score_probability_model(
    registry_rows: pd.DataFrame,
    features: pd.DataFrame,
    *,
    kind: str,
    eligible: np.ndarray,
    ineligible_reason: str,
    with_reasons: bool = False,
    orders: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score ``features`` with the latest approved model of ``kind``.

    Returns one row per input row: customer_id, probability (null when the
    customer is not eligible or no model is approved), reasons (top three, when
    asked), model_version, method (``gbm`` or ``bgnbd``) and score_note (why
    a probability is null). A BG/NBD rung model reads ``orders`` (as
    :func:`train_family_run`) and scores the customers with a purchase
    before the features' cutoff_date.
    """
    out = pd.DataFrame({"customer_id": features["customer_id"].to_numpy()})
    out["probability"] = np.nan
    out["reasons"] = None
    out["model_version"] = None
    out["method"] = None
    out["score_note"] = None
    serving = registry.latest_approved(registry_rows, kind)
    if serving is None:
        out["score_note"] = registry.no_model_note(registry_rows, kind)
        return out
    eligible = np.asarray(eligible, dtype=bool)
    method = ladder.method_of(serving, ladder.SUPERVISED_METHOD)
    if method == ladder.BGNBD_METHOD:
        return _score_bgnbd(
            out,
            serving,
            features,
            orders,
            kind,
            eligible,
            ineligible_reason,
            with_reasons,
        )
    model = ProbabilityModel.from_bytes(bytes(serving["artifact"]))
    rows = features[eligible]
    if len(rows):
        out.loc[eligible, "probability"] = model.predict_proba(rows)
        if with_reasons:
            labels = {name: feature_label(name) for name in model.feature_names_}
            out.loc[eligible, "reasons"] = model.reasons(rows, labels=labels).to_numpy()
    out.loc[eligible, "model_version"] = serving["model_version"]
    out.loc[eligible, "method"] = method
    out.loc[~eligible, "score_note"] = ineligible_reason
    return out


#: The per-customer columns of :func:`score_probability_model`.
SCORE_COLUMNS = ("probability", "reasons", "model_version", "method", "score_note")


def published(scores: pd.DataFrame, prefix: str, with_reasons: bool) -> pd.DataFrame:
    """``scores`` of :func:`score_probability_model` with its columns named as
    the score table publishes them (``<prefix>_probability``, ...); without
    ``with_reasons`` the reasons column is left out."""
    if not with_reasons:
        scores = scores.drop(columns="reasons")
    return scores.rename(columns={c: f"{prefix}_{c}" for c in SCORE_COLUMNS})


def _score_bgnbd(
    out: pd.DataFrame,
    serving: pd.Series,
    features: pd.DataFrame,
    orders: pd.DataFrame | None,
    kind: str,
    eligible: np.ndarray,
    ineligible_reason: str,
    with_reasons: bool,
) -> pd.DataFrame:
    """:func:`score_probability_model` for a BG/NBD rung row."""
    from .features import as_of_date

    if orders is None:
        raise ValueError(
            f"the serving {kind} model is the BG/NBD rung: pass the orders to score"
        )
    prob, reasons = ladder.score_bgnbd_probability(
        serving,
        orders,
        features["customer_id"],
        as_of_date=as_of_date(features["cutoff_date"]),
        event=BGNBD_EVENTS[kind],
    )
    scored = eligible & ~np.isnan(prob)
    out.loc[scored, "probability"] = prob[scored]
    if with_reasons:
        out.loc[scored, "reasons"] = reasons[scored]
    out.loc[scored, "model_version"] = serving["model_version"]
    out.loc[scored, "method"] = ladder.BGNBD_METHOD
    out.loc[~eligible, "score_note"] = ineligible_reason
    unscored = eligible & ~scored
    prospect_model = prospects.split(serving["artifact"])[1]
    if prospect_model is not None and unscored.any():
        # No purchase yet: the prospect model of the rung, from what is
        # known about them (profile, engagement).
        window = int(json.loads(serving["parameters"])["window_days"])
        rows = features[unscored]
        out.loc[unscored, "probability"] = prospect_model.probability(rows, window)
        if with_reasons:
            classifier = prospect_model.classifier
            labels = {name: feature_label(name) for name in classifier.feature_names_}
            out.loc[unscored, "reasons"] = classifier.reasons(
                rows, labels=labels
            ).to_numpy()
        out.loc[unscored, "model_version"] = serving["model_version"]
        out.loc[unscored, "method"] = prospects.PROSPECT_METHOD
        return out
    why = json.loads(serving["metrics"] or "{}").get("prospect_reason")
    out.loc[unscored, "score_note"] = (
        "no purchase yet: the serving model is BG/NBD on the order history (too "
        "short for the supervised model's label windows), which predicts for "
        "customers with a purchase" + (f"; no prospect model: {why}" if why else "")
    )
    return out
