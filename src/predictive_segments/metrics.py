"""Model-quality metrics shared by every model of the package.

All functions take array-likes (lists, numpy arrays, pandas Series) of equal
length, validate them (same length, no NaN or infinity, binary labels where
labels are needed) and raise ``ValueError`` with a message that says what to
fix. They are vectorized and deterministic.

Conventions:

* Scores and probabilities rank customers: a higher value means "more likely"
  (or "more valuable", "more uplift").
* Deciles are numbered 1 (lowest prediction) to 10 (highest prediction), so
  decile 10 is the "top decile". Customers are ranked by prediction, highest
  first, ties broken by position (earlier rows rank higher), and the first
  ``ceil(n / 10)`` of that ranking form decile 10, and so on; decile sizes
  differ by at most one. With fewer than 10 customers some deciles are empty
  and are left out of the tables.
* Curves that rank by score (gains, Qini, uplift) treat tied scores as one
  block and interpolate linearly across it, which is the expected curve over
  random orderings of the ties; so a constant score is exactly "random".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .ml_libs import adjusted_rand_score, average_precision_score
from .ml_libs import roc_auc_score as _sk_roc_auc

__all__ = [
    "adjusted_rand",
    "auuc",
    "brier",
    "calibration_by_decile",
    "lift_quality",
    "log_loss",
    "mae",
    "pr_auc",
    "qini_coefficient",
    "qini_curve",
    "rmse",
    "roc_auc",
    "top_decile_capture",
    "value_by_decile",
]

# Probabilities are clipped to [eps, 1 - eps] in the log loss so that a single
# confident mistake gives a large but finite penalty.
_LOG_LOSS_EPS = 1e-15


# --------------------------------------------------------------------------
# validation helpers


def _numeric(x: object, name: str) -> np.ndarray:
    """Return ``x`` as a 1-D float64 array; ValueError if not numeric, NaN or inf."""
    if isinstance(x, pd.DataFrame):
        raise ValueError(f"{name} must be one column (1-D), got a DataFrame")
    try:
        if isinstance(x, pd.Series | pd.Index):
            arr = x.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric ({exc})") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"{name} has {int(bad.sum())} missing or infinite values; "
            "drop or impute them before computing the metric"
        )
    return arr


def _binary(x: object, name: str) -> np.ndarray:
    """Return ``x`` as a 0/1 float64 array; ValueError for any other value."""
    arr = _numeric(x, name)
    other = (arr != 0.0) & (arr != 1.0)
    if other.any():
        examples = ", ".join(str(v) for v in np.unique(arr[other])[:3])
        raise ValueError(
            f"{name} must hold binary labels 0/1 (or booleans); found "
            f"{int(other.sum())} other values, e.g. {examples}"
        )
    return arr


def _probability(x: object, name: str) -> np.ndarray:
    arr = _numeric(x, name)
    outside = (arr < 0.0) | (arr > 1.0)
    if outside.any():
        raise ValueError(
            f"{name} has {int(outside.sum())} values outside [0, 1]; "
            "pass probabilities, not raw scores"
        )
    return arr


def _same_length(**arrays: np.ndarray) -> int:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        detail = ", ".join(f"{k} has {v}" for k, v in lengths.items())
        raise ValueError(f"inputs must have the same length: {detail}")
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError("inputs are empty; pass at least one customer")
    return n


def _both_classes(y: np.ndarray, what: str) -> None:
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        only = "positives (1)" if positives else "negatives (0)"
        raise ValueError(
            f"{what} needs both classes in y_true, found only {only}; "
            "evaluate on a sample with at least one positive and one negative"
        )


# --------------------------------------------------------------------------
# ranking helpers


def _descending_order(score: np.ndarray) -> np.ndarray:
    """Indices ranking ``score`` highest first, ties by position (stable)."""
    return np.argsort(-score, kind="stable")


def _tie_block_ends(sorted_score: np.ndarray) -> np.ndarray:
    """Indices (in the sorted array) of the last element of each tie block."""
    return np.flatnonzero(np.r_[sorted_score[1:] != sorted_score[:-1], True])


def _decile_of_rank(n: int) -> np.ndarray:
    """Decile (10 = highest) of each rank 0..n-1 in a highest-first ranking."""
    rank = np.arange(n)
    return 10 - (rank * 10) // n


def _deciles(prediction: np.ndarray) -> np.ndarray:
    """Decile 1..10 of each customer (10 = highest prediction)."""
    n = len(prediction)
    decile = np.empty(n, dtype=np.int64)
    decile[_descending_order(prediction)] = _decile_of_rank(n)
    return decile


# --------------------------------------------------------------------------
# classification


def roc_auc(y_true: object, score: object) -> float:
    """Return the area under the ROC curve (0.5 = random, 1 = perfect).

    ``y_true`` holds 0/1 labels, ``score`` any numbers ranking positives
    higher. Both classes must be present.
    """
    y = _binary(y_true, "y_true")
    s = _numeric(score, "score")
    _same_length(y_true=y, score=s)
    _both_classes(y, "roc_auc")
    return float(_sk_roc_auc(y, s))


def pr_auc(y_true: object, score: object) -> float:
    """Return the average precision (area under the precision-recall curve).

    The value of a random score is about the base rate; 1 is perfect. At least
    one positive is needed.
    """
    y = _binary(y_true, "y_true")
    s = _numeric(score, "score")
    _same_length(y_true=y, score=s)
    if y.sum() == 0:
        raise ValueError(
            "pr_auc needs at least one positive in y_true; "
            "evaluate on a sample with positives"
        )
    return float(average_precision_score(y, s))


def brier(y_true: object, prob: object) -> float:
    """Return the Brier score: mean squared error of probabilities (0 = perfect)."""
    y = _binary(y_true, "y_true")
    p = _probability(prob, "prob")
    _same_length(y_true=y, prob=p)
    return float(np.mean((p - y) ** 2))


def log_loss(y_true: object, prob: object) -> float:
    """Return the mean negative log-likelihood in nats (0 = perfect).

    Probabilities are clipped to [1e-15, 1 - 1e-15].
    """
    y = _binary(y_true, "y_true")
    p = _probability(prob, "prob")
    _same_length(y_true=y, prob=p)
    p = np.clip(p, _LOG_LOSS_EPS, 1.0 - _LOG_LOSS_EPS)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


def _gains_curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative gains at tie-block ends: (fraction targeted, fraction of positives).

    Both arrays start at 0 and end at 1.
    """
    order = _descending_order(s)
    ends = _tie_block_ends(s[order])
    captured = np.cumsum(y[order])[ends]
    x = np.r_[0.0, (ends + 1) / len(y)]
    g = np.r_[0.0, captured / captured[-1]]
    return x, g


def lift_quality(y_true: object, score: object) -> float:
    """Return lift quality in percent: 0 = random ranking, 100 = perfect ranking.

    It is the area between the model's cumulative-gains curve and the random
    diagonal, divided by the same area for the perfect model, times 100
    (the "accuracy ratio"; it equals 100 * (2 * AUC - 1)). Negative when the
    score ranks negatives above positives.
    """
    y = _binary(y_true, "y_true")
    s = _numeric(score, "score")
    _same_length(y_true=y, score=s)
    _both_classes(y, "lift_quality")
    x, g = _gains_curve(y, s)
    model_area = np.trapezoid(g, x) - 0.5
    base_rate = y.mean()
    # The perfect gains curve rises linearly to 1 at x = base_rate, then stays:
    # its area is 1 - base_rate / 2, so the area above the diagonal is below.
    perfect_area = (1.0 - base_rate) / 2.0
    return float(100.0 * model_area / perfect_area)


def calibration_by_decile(y_true: object, prob: object) -> pd.DataFrame:
    """Return predicted versus observed rates per decile of predicted probability.

    Columns: ``decile`` (1 = lowest predictions, 10 = highest),
    ``mean_predicted`` and ``observed_rate`` (both probabilities in [0, 1]),
    ``customers`` (count). One row per non-empty decile, ascending.
    """
    y = _binary(y_true, "y_true")
    p = _probability(prob, "prob")
    _same_length(y_true=y, prob=p)
    decile = _deciles(p)
    counts = np.bincount(decile, minlength=11)[1:]
    sum_p = np.bincount(decile, weights=p, minlength=11)[1:]
    sum_y = np.bincount(decile, weights=y, minlength=11)[1:]
    keep = counts > 0
    return pd.DataFrame(
        {
            "decile": np.arange(1, 11)[keep],
            "mean_predicted": sum_p[keep] / counts[keep],
            "observed_rate": sum_y[keep] / counts[keep],
            "customers": counts[keep],
        }
    )


# --------------------------------------------------------------------------
# regression / value


def mae(actual: object, predicted: object) -> float:
    """Return the mean absolute error, in the units of ``actual``."""
    a = _numeric(actual, "actual")
    p = _numeric(predicted, "predicted")
    _same_length(actual=a, predicted=p)
    return float(np.mean(np.abs(a - p)))


def rmse(actual: object, predicted: object) -> float:
    """Return the root mean squared error, in the units of ``actual``."""
    a = _numeric(actual, "actual")
    p = _numeric(predicted, "predicted")
    _same_length(actual=a, predicted=p)
    return float(np.sqrt(np.mean((a - p) ** 2)))


def top_decile_capture(actual_value: object, predicted_value: object) -> float:
    """Return the share (0..1) of total actual value held by the top decile.

    The top decile is the ``ceil(n / 10)`` customers with the highest
    ``predicted_value`` (ties broken by position, earlier rows first), the
    same customers as decile 10 of :func:`value_by_decile`. A random ranking
    captures about 0.1. The total actual value must be positive.
    """
    a = _numeric(actual_value, "actual_value")
    p = _numeric(predicted_value, "predicted_value")
    n = _same_length(actual_value=a, predicted_value=p)
    total = a.sum()
    if total <= 0:
        raise ValueError(
            f"actual_value sums to {total:g}; top_decile_capture needs a "
            "positive total actual value (e.g. revenue in the holdout window)"
        )
    top = _descending_order(p)[: -(-n // 10)]
    return float(a[top].sum() / total)


def value_by_decile(actual_value: object, predicted_value: object) -> pd.DataFrame:
    """Return predicted versus actual value per decile of prediction.

    Columns: ``decile`` (1 = lowest predictions, 10 = highest), ``customers``
    (count), ``mean_predicted`` and ``mean_actual`` (per customer, in the
    units of the inputs), ``share_of_actual`` (the decile's share of the total
    actual value, 0..1; NaN when the total is 0). One row per non-empty
    decile, ascending.
    """
    a = _numeric(actual_value, "actual_value")
    p = _numeric(predicted_value, "predicted_value")
    _same_length(actual_value=a, predicted_value=p)
    decile = _deciles(p)
    counts = np.bincount(decile, minlength=11)[1:]
    sum_p = np.bincount(decile, weights=p, minlength=11)[1:]
    sum_a = np.bincount(decile, weights=a, minlength=11)[1:]
    keep = counts > 0
    total = a.sum()
    share = sum_a[keep] / total if total != 0 else np.full(int(keep.sum()), np.nan)
    return pd.DataFrame(
        {
            "decile": np.arange(1, 11)[keep],
            "customers": counts[keep],
            "mean_predicted": sum_p[keep] / counts[keep],
            "mean_actual": sum_a[keep] / counts[keep],
            "share_of_actual": share,
        }
    )


# --------------------------------------------------------------------------
# uplift


def _uplift_inputs(
    outcome: object, treated: object, uplift_score: object, binary_outcome: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if binary_outcome:
        try:
            y = _binary(outcome, "outcome")
        except ValueError as exc:
            raise ValueError(f"Qini needs a binary outcome: {exc}") from None
    else:
        y = _numeric(outcome, "outcome")
    t = _binary(treated, "treated")
    s = _numeric(uplift_score, "uplift_score")
    _same_length(outcome=y, treated=t, uplift_score=s)
    n_treated = int(t.sum())
    if n_treated == 0 or n_treated == len(t):
        raise ValueError(
            "treated must contain both treated (1) and control (0) customers; "
            f"found {n_treated} treated of {len(t)}"
        )
    return y, t, s


def _cumulative_by_group(
    y: np.ndarray, t: np.ndarray, s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative counts at tie-block ends of the highest-first ranking.

    Returns (customers targeted, treated, treated outcome, control, control
    outcome), each starting with a 0 for "nobody targeted".
    """
    order = _descending_order(s)
    ends = _tie_block_ends(s[order])
    ys, ts = y[order], t[order]

    def cum(v: np.ndarray) -> np.ndarray:
        return np.r_[0.0, np.cumsum(v)[ends]]

    return (
        np.r_[0.0, ends + 1.0],
        cum(ts),
        cum(ys * ts),
        cum(1.0 - ts),
        cum(ys * (1.0 - ts)),
    )


def qini_curve(outcome: object, treated: object, uplift_score: object) -> pd.DataFrame:
    """Return the Qini curve of an uplift score.

    Customers are targeted in order of decreasing ``uplift_score``. At each
    point, ``incremental_responders`` is the number of responders among the
    targeted treated customers minus the control responders scaled to the
    treated count, ``R_t - R_c * N_t / N_c`` (``R_c`` term taken as 0 while no
    control customer is targeted). Columns: ``fraction_targeted`` (0..1,
    starting at 0) and ``incremental_responders`` (customers). One row per
    distinct score, plus the origin; linear between rows.
    """
    y, t, s = _uplift_inputs(outcome, treated, uplift_score, binary_outcome=True)
    k, n_t, r_t, n_c, r_c = _cumulative_by_group(y, t, s)
    scaled_control = np.divide(r_c * n_t, n_c, out=np.zeros_like(r_c), where=n_c > 0)
    return pd.DataFrame(
        {
            "fraction_targeted": k / len(y),
            "incremental_responders": r_t - scaled_control,
        }
    )


def qini_coefficient(outcome: object, treated: object, uplift_score: object) -> float:
    """Return the Qini coefficient: area between the Qini curve and random.

    The random line joins (0, 0) to (1, total incremental responders). The area
    (fraction targeted x incremental responders) is divided by the number of
    customers, so the value is in incremental responders per customer: about 0
    for a random score, positive when the score ranks persuadable customers
    first, negative when it ranks them last.
    """
    curve = qini_curve(outcome, treated, uplift_score)
    x = curve["fraction_targeted"].to_numpy()
    q = curve["incremental_responders"].to_numpy()
    area = np.trapezoid(q - x * q[-1], x)
    return float(area / len(np.asarray(outcome)))


def qini_normalized(outcome: object, treated: object, uplift_score: object) -> float:
    """Return the normalized Qini: the Qini coefficient over the perfect one.

    (area of the score's Qini curve - area of the random line) / (the same
    for the perfect ranking, which targets the treated responders first and
    the control responders last), as scikit-uplift's ``qini_auc_score`` with
    ``negative_effect=True``: 1 for the perfect ranking, about 0 for a random
    one, negative below random. Unlike :func:`qini_coefficient` (incremental
    responders per customer, which depends on the campaign's response rates)
    it compares campaigns. NaN when the perfect ranking gains nothing over
    random (no responder).
    """
    y, t, _ = _uplift_inputs(outcome, treated, uplift_score, binary_outcome=True)
    perfect = qini_coefficient(y, t, y * t - y * (1.0 - t))
    if perfect <= 0:
        return float("nan")
    return qini_coefficient(outcome, treated, uplift_score) / perfect


def auuc(outcome: object, treated: object, uplift_score: object) -> float:
    """Return the area under the uplift curve, normalized to [0, 1] on the x axis.

    The uplift curve at fraction x targeted (highest ``uplift_score`` first) is
    ``(treated response rate - control response rate among the targeted) * x``,
    the incremental outcome per customer of the whole base if only the top x
    were treated (0 while either group is absent from the targeted). The
    outcome may be binary or continuous (e.g. revenue); the result is in its
    units per customer. A random score gives about half the average treatment
    effect; a better ranking gives more.
    """
    y, t, s = _uplift_inputs(outcome, treated, uplift_score, binary_outcome=False)
    k, n_t, r_t, n_c, r_c = _cumulative_by_group(y, t, s)
    both = (n_t > 0) & (n_c > 0)
    rate_t = np.divide(r_t, n_t, out=np.zeros_like(r_t), where=both)
    rate_c = np.divide(r_c, n_c, out=np.zeros_like(r_c), where=both)
    x = k / len(y)
    return float(np.trapezoid((rate_t - rate_c) * x, x))


# --------------------------------------------------------------------------
# clustering


def adjusted_rand(labels_a: object, labels_b: object) -> float:
    """Return the adjusted Rand index of two labelings (1 = identical, ~0 = random).

    Labels may be numbers or strings; their names do not matter, only the
    grouping. Missing labels are not allowed.
    """
    a = np.asarray(labels_a)
    b = np.asarray(labels_b)
    for name, arr in (("labels_a", a), ("labels_b", b)):
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
        missing = int(pd.isna(arr).sum())
        if missing:
            raise ValueError(
                f"{name} has {missing} missing labels; assign every customer a label"
            )
    _same_length(labels_a=a, labels_b=b)
    return float(adjusted_rand_score(a, b))
