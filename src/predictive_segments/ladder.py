"""The short-history ladder: what serves when supervised label windows are missing.

CLV, churn and purchase propensity first try their supervised models, which
learn from past label windows: CLV needs one full ``clv_horizon_days`` window
before ``as_of_date``, churn and purchase propensity two of theirs
(``training_windows``). A history shorter than that (a shop's first months,
an export of the last year) cannot give them examples. The next rung needs
only the order history: BG/NBD (+ Gamma-Gamma for value) fitted on every
order before ``as_of_date``. It is backtested the way users would check it,
on the longest window the history allows (:func:`backtest_window`: at most
the family's window, at most half the history, so the calibration period is
never shorter than the holdout), and gated like the supervised model
(top-decile capture for CLV, AUC for the classifiers). Only when this rung
fails too (too few customers or repeat purchases) is a family
``insufficient_data``.

Registry rows of this rung carry ``method`` (``bgnbd`` for churn and
purchase propensity, ``bgnbd_gamma_gamma`` for CLV) in their parameters and
metrics, and ``validated_horizon_days`` (the backtest window) in their
metrics, so ``rpt_model_quality`` shows what was validated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import prospects, registry
from .classifier import check_eligibility, probability_metrics
from .clv import (
    BetaGeometricNBD,
    BgnbdClv,
    _cutoff_day,
    _day_text,
    _is_missing_date,
    _order_days,
    clv_eligibility,
    evaluate_clv,
    history_problems,
    summary_from_orders,
)

__all__ = [
    "BGNBD_METHOD",
    "MIN_VALIDATED_DAYS",
    "Backtest",
    "backtest_window",
    "bgnbd_clv_backtest",
    "bgnbd_probability_run",
    "method_of",
    "realized_after",
    "score_bgnbd_probability",
]

#: ``method`` of the probabilistic rung of churn and purchase propensity.
BGNBD_METHOD = "bgnbd"
#: ``method`` of the supervised classifiers (calibrated gradient boosting).
SUPERVISED_METHOD = "gbm"
#: A backtest shorter than this says too little about a window of months.
MIN_VALIDATED_DAYS = 14
#: What the BG/NBD rung reads per customer (``summary_from_orders``).
BGNBD_FEATURES = ["frequency", "recency_days", "age_days"]


@dataclass(frozen=True)
class Backtest:
    """A backtest: fit on the history before ``cutoff``, check the next ``days``."""

    cutoff: pd.Timestamp
    days: int


def backtest_window(
    orders: pd.DataFrame, as_of_date: Any, window_days: int
) -> Backtest | str:
    """The longest backtest the history before ``as_of_date`` allows.

    ``days`` = min(``window_days``, half the days from the first purchase to
    ``as_of_date``), ending on ``as_of_date``: a full window when the history
    holds two, else the second half of the history (the first half
    calibrates). Returns a reason (str) when there is no purchase before
    ``as_of_date`` or the backtest would be shorter than
    :data:`MIN_VALIDATED_DAYS`.
    """
    if _is_missing_date(as_of_date):
        return "no as_of_date (no customers)"
    end = _cutoff_day(as_of_date)
    if len(orders) == 0:
        return "no orders"
    day, amount = _order_days(orders)
    purchased = day[(amount > 0) & (day < end).to_numpy()]
    if purchased.empty:
        return f"no purchase before {_day_text(end)}"
    span = int((end - purchased.min()).days)
    days = min(int(window_days), span // 2)
    if days < MIN_VALIDATED_DAYS:
        return (
            f"the history from the first purchase ({_day_text(purchased.min())}) "
            f"to {_day_text(end)} is {span} days: a backtest needs at least "
            f"{2 * MIN_VALIDATED_DAYS} days of orders"
        )
    return Backtest(cutoff=end - pd.Timedelta(days=days), days=days)


def realized_after(orders: pd.DataFrame, start: Any, days: int) -> pd.DataFrame:
    """What each customer did in the ``days`` from ``start``: one row per customer
    with an order then: customer_id, revenue (net: refunds deduct), purchases
    (orders with a positive amount, as the labels count them)."""
    day, amount = _order_days(orders)
    first = _cutoff_day(start)
    inside = ((day >= first) & (day < first + pd.Timedelta(days=int(days)))).to_numpy()
    frame = pd.DataFrame(
        {
            "customer_id": orders["customer_id"].to_numpy()[inside],
            "revenue": amount[inside],
            "purchases": (amount[inside] > 0).astype(np.int64),
        }
    )
    return frame.groupby("customer_id", sort=True, as_index=False).sum()


def _bgnbd_problems(
    orders: pd.DataFrame, summary: pd.DataFrame, cutoff: Any
) -> list[str]:
    """Why no BG/NBD should be fitted on ``summary`` (history before ``cutoff``)."""
    problems = history_problems(orders, summary, cutoff)
    if problems:
        return problems
    # Gamma-Gamma needs repeat customers too; the classifiers use the same
    # floor so that every family of the rung rests on the same evidence.
    return clv_eligibility(summary)


#: ``method`` of the CLV rows: the probabilistic and the supervised model.
CLV_METHODS = {
    "clv_bgnbd": "bgnbd_gamma_gamma",
    "clv_gbm": "gbm",
    "clv_blend": "blend",
}


def bgnbd_clv_backtest(
    orders: pd.DataFrame, as_of_date: Any, horizon_days: int, seed: int
) -> tuple[Backtest, pd.DataFrame, dict[str, Any]] | str:
    """The CLV rung's backtest when no full ``horizon_days`` fits in the history.

    BG/NBD + Gamma-Gamma fitted on the orders before the cutoff of
    :func:`backtest_window`, its predicted value over the backtest days
    compared with the net revenue every customer with a purchase before the
    cutoff brought then (nothing is learned from that revenue, so every
    customer is in the holdout). Returns (backtest, the summary it was
    fitted on, the :func:`clv.evaluate_clv` metrics with
    validated_horizon_days, backtest_cutoff and the fitted params), or why
    there is no such backtest.
    """
    backtest = backtest_window(orders, as_of_date, horizon_days)
    if isinstance(backtest, str):
        return backtest
    where = f"{backtest.days}-day backtest from {_day_text(backtest.cutoff)}"
    if backtest.days >= int(horizon_days):
        return f"{where}: the full horizon, whose data did not suffice"
    past = summary_from_orders(orders, backtest.cutoff)
    problems = _bgnbd_problems(orders, past, backtest.cutoff)
    if problems:
        return f"{where}: " + "; ".join(problems)
    realized = (
        realized_after(orders, backtest.cutoff, backtest.days)
        .set_index("customer_id")["revenue"]
        .reindex(past["customer_id"], fill_value=0.0)
    )
    if float(realized.sum()) <= 0:
        return (
            f"{where}: the {len(past)} customers with a purchase before it "
            "brought no net revenue then; there is nothing to backtest against"
        )
    model = BgnbdClv(seed=seed).fit(past)
    predicted = model.predict(past, backtest.days)
    metrics = evaluate_clv(realized.to_numpy(dtype=np.float64), predicted)
    metrics.update(
        params={**model.purchase_model_.params_, **model.spend_model_.params_},
        validated_horizon_days=backtest.days,
        backtest_cutoff=_day_text(backtest.cutoff),
    )
    return backtest, past, metrics


def bgnbd_probability_run(
    orders: pd.DataFrame,
    *,
    kind: str,
    event: str,
    window_days: int,
    as_of_date: Any,
    run_id: str,
    trained_at: Any,
    min_auc: float,
    min_class_examples: int = 100,
    supervised_reason: str | None = None,
) -> dict[str, Any]:
    """The BG/NBD rung of a classifier: one registry row of ``kind``.

    ``event`` is ``"no_purchase"`` (churn: no purchase in the next
    ``window_days``) or ``"purchase"`` (purchase propensity: at least one).
    Backtest: BG/NBD fitted on the orders before the cutoff of
    :func:`backtest_window`, its P(event in the backtest days) ranked
    against what the customers with a purchase before the cutoff did then
    (AUC gate ``min_auc``; both outcomes need ``min_class_examples``). The
    artifact is BG/NBD refitted on every order before ``as_of_date``; it
    serves P(event in ``window_days``). ``supervised_reason`` (why the
    supervised model could not train) is kept in the metrics and in the
    reason when this rung fails too.
    """
    if event not in ("no_purchase", "purchase"):
        raise ValueError(f"event must be 'no_purchase' or 'purchase', got {event!r}")
    parameters = {
        "method": BGNBD_METHOD,
        "window_days": int(window_days),
        "min_auc": min_auc,
        "min_class_examples": min_class_examples,
    }
    as_of = None if _is_missing_date(as_of_date) else _cutoff_day(as_of_date)
    backtest = backtest_window(orders, as_of, window_days)
    base = {
        "kind": kind,
        "as_of_date": as_of,
        "parameters": parameters,
        "features": BGNBD_FEATURES,
        "run_id": run_id,
        "trained_at": trained_at,
    }
    notes = {"method": BGNBD_METHOD, "supervised_reason": supervised_reason}

    def insufficient(problem: str, cutoff: Any = None, fingerprint: str = "") -> dict:
        reasons = [f"supervised: {supervised_reason}"] if supervised_reason else []
        reasons.append(f"BG/NBD: {problem}")
        return registry.registry_row(
            **base,
            training_cutoff=cutoff,
            status=registry.INSUFFICIENT_DATA,
            reason="; ".join(reasons),
            metrics=notes,
            fingerprint=fingerprint or registry.data_fingerprint(orders),
            artifact=None,
        )

    if isinstance(backtest, str):
        return insufficient(backtest)
    past = summary_from_orders(orders, backtest.cutoff)
    fingerprint = registry.data_fingerprint(past)
    problems = _bgnbd_problems(orders, past, backtest.cutoff)
    if problems:
        return insufficient("; ".join(problems), backtest.cutoff, fingerprint)
    outcome = realized_after(orders, backtest.cutoff, backtest.days).set_index(
        "customer_id"
    )
    purchases = outcome["purchases"].reindex(past["customer_id"], fill_value=0)
    bought = purchases.to_numpy() > 0
    y = ~bought if event == "no_purchase" else bought
    ok, why = check_eligibility(y, min_class_examples, min_class_examples)
    if not ok:
        return insufficient(
            f"backtest {_day_text(backtest.cutoff)} + {backtest.days} days: {why}",
            backtest.cutoff,
            fingerprint,
        )
    model = BetaGeometricNBD().fit(
        past["frequency"], past["recency_days"], past["age_days"]
    )
    p_none = model.p_no_purchase(
        backtest.days, past["frequency"], past["recency_days"], past["age_days"]
    )
    prob = p_none if event == "no_purchase" else 1.0 - p_none
    metrics = {
        **probability_metrics(y, prob),
        **notes,
        "validated_horizon_days": backtest.days,
        "window_days": int(window_days),
        "backtest_cutoff": _day_text(backtest.cutoff),
        "params": model.params_,
        "training_examples": len(past),
        "holdout_examples": len(past),
    }
    gate = registry.evaluate_gates(metrics, {"auc": min_auc})
    current = summary_from_orders(orders, as_of)
    serving = BetaGeometricNBD().fit(
        current["frequency"], current["recency_days"], current["age_days"]
    )
    return registry.registry_row(
        **base,
        training_cutoff=backtest.cutoff,
        status=gate.status,
        reason=gate.reason,
        metrics=metrics,
        fingerprint=fingerprint,
        artifact=serving.to_bytes(),
    )


def method_of(row: pd.Series | dict[str, Any] | None, default: str) -> str | None:
    """The ``method`` in a registry row's parameters (``default`` when absent)."""
    import json

    if row is None:
        return None
    parameters = json.loads(row["parameters"] or "{}")
    return str(parameters.get("method", default))


def score_bgnbd_probability(
    serving: pd.Series,
    orders: pd.DataFrame,
    customer_ids: pd.Series,
    *,
    as_of_date: Any,
    event: str,
) -> tuple[np.ndarray, np.ndarray]:
    """(probability, reasons) per customer from a BG/NBD rung row.

    The probability of ``event`` in the row's ``window_days`` after
    ``as_of_date``; NaN for customers without a purchase before it (the
    BG/NBD knows nothing of them). Reasons read like the classifier's: days
    since the last purchase against the customer's usual gap, and the number
    of repeat purchases.
    """
    import json

    window = int(json.loads(serving["parameters"])["window_days"])
    model = BetaGeometricNBD.from_bytes(prospects.split(serving["artifact"])[0])
    summary = summary_from_orders(orders, as_of_date).set_index("customer_id")
    position = summary.index.get_indexer(pd.Series(customer_ids).astype(object))
    known = position >= 0
    rows = summary.iloc[position[known]]
    p_none = model.p_no_purchase(
        window, rows["frequency"], rows["recency_days"], rows["age_days"]
    )
    prob = np.full(len(position), np.nan)
    prob[known] = p_none if event == "no_purchase" else 1.0 - p_none
    reasons = np.full(len(position), None, dtype=object)
    reasons[known] = [
        _reason(int(x), int(t_x), int(age))
        for x, t_x, age in zip(
            rows["frequency"], rows["recency_days"], rows["age_days"], strict=True
        )
    ]
    return prob, reasons


def _reason(frequency: int, recency_days: int, age_days: int) -> str:
    """Readable basis of a BG/NBD score: time since the last purchase, usual gap."""
    since = age_days - recency_days
    if frequency == 0:
        return f"one purchase, {since} days ago"
    gap = recency_days / frequency
    usual = f"usually every {math.ceil(gap)} days" if gap >= 1 else "several a day"
    return (
        f"last purchase {since} days ago ({usual}); "
        f"{frequency} repeat purchase{'s' if frequency > 1 else ''}"
    )
