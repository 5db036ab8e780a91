"""Prospects: customers known to the shop (signed up, browsing) who never bought.

BG/NBD, the short-history rung of the ladder, models the purchases of
customers who bought at least once; to it a prospect is worth nothing and
has no purchase probability. What is known about a prospect is their
profile and engagement, so this model learns from the prospects of a past
cutoff what became of them: a calibrated GBM of "a first purchase in the
next ``window_days``" on the features, and the revenue the converting ones
brought in that window.

The examples are ``ml_prospect_examples``: the features at the prospect
cutoff (``prospect_window()`` in macros/features/as_of.sql: as_of_date minus
the longest window the history allows, as the BG/NBD backtest) of the
customers without a purchase before it, with what they did in the window
after it. The customers are split at random (seeded): half train, a quarter
calibrates, a quarter is the holdout the AUC gate reads. All of it lies in
one window, so the model is validated across customers, not across time
(the supervised rung validates across time; this rung has no second
window to do so).

Serving over another number of days than the window: over fewer days the
probability of a first purchase assumes a constant chance per day, 1 - (1 -
p) ** (days / window_days); over more days it stays the window's p, a
lower bound, because the chance of a first purchase falls with the time
since sign-up (on the demo data, extrapolating a 137-day model to 273 days
at a constant daily chance predicted 20 % where 8 % of the prospects
bought; the window's own p said 11 %). The value is that probability times
the mean window revenue of a converting prospect (quantiles from the
mixture of no purchase and the converting prospects' revenues). Both are
stated approximations, reported as method ``prospect_gbm``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from . import registry
from .classifier import ProbabilityModel, check_eligibility
from .features import feature_columns, varying_columns

__all__ = [
    "PROSPECT_METHOD",
    "ProspectModel",
    "attach",
    "fit_and_attach",
    "fit_prospects",
    "split",
]

#: ``method`` of the scores a :class:`ProspectModel` gives.
PROSPECT_METHOD = "prospect_gbm"
#: The outcome columns of ``ml_prospect_examples`` (never features).
OUTCOME_COLUMNS = ("window_days", "window_order_count", "window_revenue")
#: Quantile points kept of the converting prospects' window revenue.
VALUE_POINTS = 201
_ENVELOPE = "LadderRung"


class ProspectModel:
    """P(first purchase) and expected value of a prospect from its features."""

    def __init__(
        self,
        classifier: ProbabilityModel,
        window_days: int,
        revenue_quantiles: np.ndarray,
    ) -> None:
        self.classifier = classifier
        self.window_days = int(window_days)
        # Quantiles (VALUE_POINTS, from 0 to 1) of the window revenue of the
        # prospects that bought in the window.
        self.revenue_quantiles = np.asarray(revenue_quantiles, dtype=np.float64)

    def probability(self, features: pd.DataFrame, days: int) -> np.ndarray:
        """P(at least one purchase within ``days``) per row of ``features``:
        the window's probability, scaled down for fewer days (module doc)."""
        p = np.clip(self.classifier.predict_proba(features), 0.0, 1.0)
        if days >= self.window_days:
            return p
        return 1.0 - (1.0 - p) ** (float(days) / self.window_days)

    def value(self, features: pd.DataFrame, days: int) -> pd.DataFrame:
        """predicted_clv and its P10/P50/P90 over ``days`` per row."""
        p = self.probability(features, days)
        out = pd.DataFrame({"predicted_clv": p * float(self.revenue_quantiles.mean())})
        grid = np.linspace(0.0, 1.0, self.revenue_quantiles.size)
        for q, column in ((0.1, "p10"), (0.5, "p50"), (0.9, "p90")):
            # Quantile q of: 0 with 1 - p, else a converting prospect's value.
            inner = np.clip((q - (1.0 - p)) / np.where(p > 0, p, 1.0), 0.0, 1.0)
            values = np.interp(inner, grid, self.revenue_quantiles)
            out[f"predicted_clv_{column}"] = np.where(q <= 1.0 - p, 0.0, values)
        return out

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "classifier": self.classifier.to_bytes().decode(),
                "window_days": self.window_days,
                "revenue_quantiles": self.revenue_quantiles.tolist(),
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> ProspectModel:
        state = json.loads(bytes(data).decode())
        return cls(
            ProbabilityModel.from_bytes(state["classifier"].encode()),
            state["window_days"],
            np.asarray(state["revenue_quantiles"], dtype=np.float64),
        )


def fit_prospects(
    examples: pd.DataFrame,
    *,
    min_auc: float,
    seed: int = 0,
    nthread: int = 1,
    min_class_examples: int = 100,
) -> tuple[ProspectModel | None, dict[str, Any]]:
    """A :class:`ProspectModel` of ``examples`` (``ml_prospect_examples``) and
    its metrics (``prospect_*``: AUC on the holdout quarter, examples,
    conversions, window), or None and ``prospect_reason`` when the examples
    are too few, hold too few of either outcome, or the model misses
    ``min_auc``."""
    metrics: dict[str, Any] = {"prospect_examples": len(examples)}
    if examples.empty:
        metrics["prospect_reason"] = (
            "no prospects at the prospect cutoff (no customer known before it "
            "without a purchase, or no window the history allows)"
        )
        return None, metrics
    window = int(examples["window_days"].iloc[0])
    bought = examples["window_order_count"].to_numpy() > 0
    metrics.update(prospect_window_days=window, prospect_conversions=int(bought.sum()))
    features = feature_columns(c for c in examples.columns if c not in OUTCOME_COLUMNS)
    ordered = examples.sort_values("customer_id", ignore_index=True)
    y = ordered["window_order_count"].to_numpy() > 0
    part = np.random.default_rng(seed).random(len(ordered))
    train, holdout = part < 0.5, part >= 0.75
    calibration = ~train & ~holdout
    problems = []
    for name, mask, minimum in (
        ("training", train, min_class_examples),
        ("calibration", calibration, 10),
        ("holdout", holdout, 10),
    ):
        ok, why = check_eligibility(y[mask].astype(float), minimum, minimum)
        if not ok:
            problems.append(f"{name}: {why}")
    if not problems and not varying_columns(ordered[train], features):
        problems.append(f"none of the {len(features)} features varies")
    if problems:
        metrics["prospect_reason"] = (
            f"{len(ordered)} prospects, {int(y.sum())} bought in the {window} "
            f"days after the prospect cutoff: " + "; ".join(problems)
        )
        return None, metrics
    classifier = ProbabilityModel(seed=seed, nthread=nthread)
    classifier.fit(
        ordered.loc[train, features],
        y[train].astype(float),
        ordered.loc[calibration, features],
        y[calibration].astype(float),
    )
    held = classifier.evaluate(ordered.loc[holdout, features], y[holdout].astype(float))
    metrics["prospect_auc"] = held["auc"]
    if held["auc"] < min_auc:
        metrics["prospect_reason"] = (
            f"the prospect model's holdout AUC {held['auc']:.3f} is below {min_auc}"
        )
        return None, metrics
    revenue = ordered.loc[y, "window_revenue"].to_numpy(dtype=np.float64)
    values = np.quantile(np.clip(revenue, 0.0, None), np.linspace(0, 1, VALUE_POINTS))
    metrics["prospect_value_mean"] = float(values.mean())
    return ProspectModel(classifier, window, values), metrics


#: Prospect examples, or a function that reads them (only when needed).
Examples = pd.DataFrame | Callable[[], pd.DataFrame]


def fit_and_attach(
    row: dict[str, Any],
    examples: Examples,
    *,
    min_auc: float,
    seed: int,
    nthread: int,
    min_class_examples: int = 100,
) -> None:
    """:func:`fit_prospects` on ``examples`` (read now if a function) and
    :func:`attach` the result to the BG/NBD rung registry ``row``."""
    frame = examples() if callable(examples) else examples
    model, metrics = fit_prospects(
        frame,
        min_auc=min_auc,
        seed=seed,
        nthread=nthread,
        min_class_examples=min_class_examples,
    )
    attach(row, model, metrics, frame)


def attach(
    row: dict[str, Any],
    model: ProspectModel | None,
    metrics: dict[str, Any],
    examples: pd.DataFrame,
) -> None:
    """Add a prospect model (fitted on ``examples``) and its metrics to a
    BG/NBD rung registry ``row``, in place: the artifact becomes an envelope
    of both (:func:`split`), and the data fingerprint and model version
    cover the prospect examples too."""
    merged = {**json.loads(row["metrics"] or "{}"), **metrics}
    merged["prospect_model"] = PROSPECT_METHOD if model is not None else None
    row["metrics"] = registry.canonical_json(merged)
    if model is None or row["artifact"] is None:
        return
    row["data_fingerprint"] = registry.combined_fingerprint(
        row["data_fingerprint"], registry.data_fingerprint(examples)
    )
    row["model_version"] = registry.model_version(
        row["model_kind"],
        json.loads(row["parameters"]),
        json.loads(row["features"]),
        row["data_fingerprint"],
        row["code_version"],
    )
    row["artifact"] = json.dumps(
        {
            "model": _ENVELOPE,
            "version": 1,
            "base": base64.b64encode(bytes(row["artifact"])).decode(),
            "prospects": base64.b64encode(model.to_bytes()).decode(),
        },
        sort_keys=True,
    ).encode()


def split(artifact: bytes) -> tuple[bytes, ProspectModel | None]:
    """(the rung's own model bytes, its prospect model or None) of an artifact
    :func:`attach` may have wrapped; other artifacts are returned as they are."""
    data = bytes(artifact)
    try:
        state = json.loads(data.decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        return data, None
    if not isinstance(state, dict) or state.get("model") != _ENVELOPE:
        return data, None
    return (
        base64.b64decode(state["base"]),
        ProspectModel.from_bytes(base64.b64decode(state["prospects"])),
    )
