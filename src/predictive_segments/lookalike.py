"""Lookalike audiences: who resembles the seed (e.g. the top 5 % by predicted CLV)?

The seed is a set of known "good" customers; everyone else is *unlabeled*, not
negative: some of them are exactly the lookalikes we want to find. This is
positive-unlabeled (PU) learning. A gradient-boosted classifier learns seed vs
unlabeled; under the usual PU assumption (seed members are picked from the
positives independently of their features) its score is proportional to the
probability of being a positive, so *ranking* the unlabeled by it ranks them by
similarity to the seed.

Scores are produced **out of fold** for everyone: the rows are split into
``n_folds`` folds that depend only on the row count and ``seed`` (never on the
labels), and each row is scored by the model trained on the other folds. So a
row's score never depends on its own label, and the model cannot flatter
customers it memorised. Scores come from a fresh fit on every run; the fold
models are not kept. A final model on all rows is kept (``score``,
``to_bytes``/``from_bytes``) for scoring *new* customers only: its scores on
the rows it was trained on are in-sample and must not be used for them.

Evaluation (``recall_by_tier_``): a share of the seed is held out, treated as
unlabeled and scored like everyone else; a good lookalike model ranks these
hidden seed members near the top of the non-seed ranking.

Inputs: a feature frame with one row per customer (numeric or boolean columns;
nulls allowed, e.g. order features of registered users who never ordered) and a
boolean seed mask in the same row order.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from .ml_libs import xgb

TIERS: tuple[int, ...] = (1, 2, 5, 10)
"""Audience tiers, in percent of the non-seed customers (top 1 %, 2 %, 5 %, 10 %)."""

_FORMAT = "predictive_segments.lookalike/1"
_RESERVED_PARAMS = ("nthread", "n_jobs", "seed", "random_state", "objective")
_DEFAULT_PARAMS: dict[str, Any] = {
    "eta": 0.05,
    "max_depth": 4,
    # PU labels are noisy (the unlabeled hold positives): keep leaves from
    # chasing single customers.
    "min_child_weight": 5.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "lambda": 1.0,
    "num_boost_round": 200,
}


def check_seed(
    is_seed: np.ndarray, min_seed: int = 100, warn_below: int = 1000
) -> tuple[bool, str | None, str | None]:
    """Say whether a seed is large enough to train a lookalike model.

    Returns ``(ok, reason, warning)``: ``ok`` is False when the seed has fewer
    than ``min_seed`` members or the rest of the population (the unlabeled
    customers to rank) has fewer than ``min_seed`` customers, and ``reason``
    then says why (else None). ``warning`` is a text when the seed is usable
    but smaller than ``warn_below`` (recall per tier is then noisy), else None.
    Raises ValueError when ``is_seed`` is not a boolean (or 0/1) vector.
    """
    seed = _as_seed_mask(is_seed)
    if min_seed < 1 or warn_below < min_seed:
        raise ValueError(
            f"min_seed={min_seed}, warn_below={warn_below}; "
            "pass 1 <= min_seed <= warn_below"
        )
    n_seed = int(seed.sum())
    n_rest = int(seed.size - n_seed)
    if n_seed < min_seed:
        return (
            False,
            f"seed has {n_seed} customers; a lookalike model needs at least "
            f"{min_seed} (widen the seed definition or wait for more data)",
            None,
        )
    if n_rest < min_seed:
        return (
            False,
            f"only {n_rest} customers are outside the seed; need at least "
            f"{min_seed} to rank (the seed covers almost everyone: narrow it)",
            None,
        )
    warning = None
    if n_seed < warn_below:
        warning = (
            f"seed has {n_seed} customers (< {warn_below}): the model is usable "
            "but the recall per tier is measured on few held-out members"
        )
    return True, None, warning


class LookalikeModel:
    """Positive-unlabeled lookalike model with out-of-fold scores.

    Parameters: ``n_folds`` folds for out-of-fold scoring (>= 2); ``seed`` for
    the fold split, the held-out seed members and xgboost; ``nthread`` xgboost
    threads; ``params`` overrides xgboost booster parameters (plus
    ``num_boost_round``; ``nthread``/``seed``/``objective`` are set by this
    class); ``holdout_share`` of the seed held out for ``recall_by_tier_``
    (0 skips the evaluation); ``final_model`` fits a model on all rows for
    ``score`` and ``to_bytes``; ``max_unlabeled_rows`` caps the unlabeled rows
    each booster trains on (a seeded sample, weighted so that the seed share
    the booster sees is unchanged; None = no cap): at a million customers the
    seed is what matters and 100,000 unlabeled rows describe the rest well.

    One out-of-fold pass serves both the published scores and the
    evaluation: the held-out seed members are trained on as unlabeled, so
    their scores are honest, and everyone else's scores come from the same
    fold models.

    Fitted attributes (after ``fit_score``): ``features_`` (columns used;
    all-null and constant columns are dropped), ``dropped_features_``,
    ``recall_by_tier_`` ({tier percent: share of held-out seed members inside
    that tier}), ``top_tier_lift_`` (share of held-out seed in the top tier
    divided by the top tier's share of customers; 1 = random),
    ``evaluation_`` (dict with the counts behind these figures) and
    ``booster_`` (the final model, or None).
    """

    def __init__(
        self,
        n_folds: int = 5,
        seed: int = 0,
        nthread: int = 2,
        params: dict[str, Any] | None = None,
        holdout_share: float = 0.2,
        final_model: bool = True,
        max_unlabeled_rows: int | None = None,
    ) -> None:
        if n_folds < 2:
            raise ValueError(f"n_folds={n_folds}; pass n_folds >= 2")
        if nthread < 1:
            raise ValueError(f"nthread={nthread}; pass nthread >= 1")
        if not 0.0 <= holdout_share < 1.0:
            raise ValueError(
                f"holdout_share={holdout_share}; pass a share in [0, 1) "
                "(0 skips the held-out recall evaluation)"
            )
        if max_unlabeled_rows is not None and max_unlabeled_rows < 1:
            raise ValueError(
                f"max_unlabeled_rows={max_unlabeled_rows}; pass a positive row "
                "count or None (no cap)"
            )
        bad = sorted(set(params or {}) & set(_RESERVED_PARAMS))
        if bad:
            raise ValueError(
                f"params sets {bad}; pass seed and nthread as constructor "
                "arguments (the objective is fixed to binary:logistic)"
            )
        self.n_folds = int(n_folds)
        self.seed = int(seed)
        self.nthread = int(nthread)
        self.params = dict(params or {})
        self.holdout_share = float(holdout_share)
        self.final_model = bool(final_model)
        self.max_unlabeled_rows = (
            None if max_unlabeled_rows is None else int(max_unlabeled_rows)
        )
        self.features_: list[str] | None = None
        self.dropped_features_: list[str] = []
        self.recall_by_tier_: dict[int, float] | None = None
        self.top_tier_lift_: float | None = None
        self.evaluation_: dict[str, Any] | None = None
        self.booster_: xgb.Booster | None = None

    # -- fitting -----------------------------------------------------------
    def fit_score(self, X: pd.DataFrame, is_seed: np.ndarray) -> pd.DataFrame:
        """Score every customer out of fold and evaluate on held-out seed members.

        Returns a frame indexed like ``X`` with columns
        ``lookalike_score`` (float in [0, 1]: out-of-fold estimate of the
        probability of being in the seed; only its ranking is meant to be used,
        scores from different fold models are comparable because every fold
        model sees the same seed share up to sampling),
        ``lookalike_percentile`` (0-100 among NON-seed customers, 100 = most
        similar: percent of non-seed customers scored at or below this one;
        null for seed members), ``lookalike_tier`` (nullable integer 1, 2, 5
        or 10: the smallest top-x % tier of the non-seed ranking holding the
        customer, i.e. percentile > 100 - x; null below the top 10 % and for
        seed members, who are excluded from the audience; ties at a tier edge
        all join the tier) and ``is_seed`` (bool).
        Raises ValueError when the inputs are malformed or the seed fails
        ``check_seed`` with its defaults.
        """
        scores, heldout = self.out_of_fold_scores(X, is_seed)
        seed_mask = _as_seed_mask(is_seed)
        self.evaluate(scores, seed_mask, heldout)
        if self.final_model:
            self.fit_final(X, seed_mask)
        else:
            self.booster_ = None
        return ranked_scores(scores, seed_mask, index=X.index)

    def out_of_fold_scores(
        self, X: pd.DataFrame, is_seed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold scores of every row and the held-out seed mask.

        Returns ``(scores, heldout)``: floats in [0, 1], each row scored by
        the booster that did not train on its fold, and the seed members held
        out for the evaluation (all False when ``holdout_share`` is 0), which
        every booster trained on as unlabeled. Sets ``features_`` and
        ``dropped_features_``.
        """
        matrix, names = self._prepare_fit(X, is_seed)
        seed_mask = _as_seed_mask(is_seed)
        heldout = self._heldout_seed(seed_mask)
        folds = _fold_ids(matrix.shape[0], self.n_folds, self.seed)
        scores = self._oof_scores(matrix, seed_mask & ~heldout, folds, names)
        return scores, heldout

    def fit_final(self, X: pd.DataFrame, is_seed: np.ndarray) -> LookalikeModel:
        """Fit the final model on every row (for ``score`` and ``to_bytes``)."""
        matrix, names = self._prepare_fit(X, is_seed)
        seed_mask = _as_seed_mask(is_seed)
        rows, weight = self._training_rows(
            np.ones(seed_mask.size, dtype=bool), seed_mask, fold=-1
        )
        self.booster_ = self._train(
            matrix[rows], seed_mask[rows].astype(float), names, weight
        )
        return self

    def _prepare_fit(
        self, X: pd.DataFrame, is_seed: np.ndarray
    ) -> tuple[np.ndarray, list[str]]:
        if not isinstance(X, pd.DataFrame):
            raise ValueError("X must be a pandas DataFrame of customer features")
        seed_mask = _as_seed_mask(is_seed)
        if seed_mask.shape[0] != len(X):
            raise ValueError(
                f"is_seed has {seed_mask.shape[0]} values but X has {len(X)} rows; "
                "pass one seed flag per customer row, in the same order"
            )
        ok, reason, _ = check_seed(seed_mask)
        if not ok:
            raise ValueError(reason)
        matrix, columns = _numeric_matrix(X)
        keep = _informative_columns(matrix)
        if not keep.any():
            raise ValueError(
                "every feature column is all-null or constant; pass features "
                "that vary between customers"
            )
        self.features_ = [c for c, k in zip(columns, keep, strict=True) if k]
        self.dropped_features_ = [
            c for c, k in zip(columns, keep, strict=True) if not k
        ]
        return np.ascontiguousarray(matrix[:, keep]), list(self.features_)

    def _booster_params(self) -> tuple[dict[str, Any], int]:
        merged = {**_DEFAULT_PARAMS, **self.params}
        rounds = int(merged.pop("num_boost_round"))
        merged.update(
            objective="binary:logistic",
            tree_method="hist",
            nthread=self.nthread,
            seed=self.seed,
        )
        return merged, rounds

    def _train(
        self,
        matrix: np.ndarray,
        label: np.ndarray,
        names: list[str],
        weight: np.ndarray | None = None,
    ):
        params, rounds = self._booster_params()
        # Trained without feature names, which xgboost would otherwise read
        # back and compare on every round; named afterwards (same model bytes).
        dtrain = xgb.DMatrix(matrix, label=label, weight=weight, nthread=self.nthread)
        booster = xgb.train(params, dtrain, num_boost_round=rounds)
        booster.feature_names = list(names)
        return booster

    def _training_rows(
        self, candidates: np.ndarray, label: np.ndarray, fold: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Rows a booster trains on and their weights (None: all weigh 1).

        Every labeled (seed) candidate; unlabeled candidates up to
        ``max_unlabeled_rows``, a sample seeded by ``seed`` and ``fold``,
        weighted by the inverse sampling rate.
        """
        unlabeled = np.flatnonzero(candidates & ~label)
        cap = self.max_unlabeled_rows
        if cap is None or unlabeled.size <= cap:
            return np.flatnonzero(candidates), None
        rng = np.random.default_rng([self.seed, 2, fold + 1])
        sampled = np.sort(rng.choice(unlabeled, size=cap, replace=False))
        rows = np.sort(np.concatenate([np.flatnonzero(candidates & label), sampled]))
        weight = np.where(label[rows], 1.0, unlabeled.size / cap)
        return rows, weight

    def _heldout_seed(self, seed_mask: np.ndarray) -> np.ndarray:
        """The seed members held out for the evaluation (seeded draw)."""
        held = np.zeros(seed_mask.size, dtype=bool)
        if self.holdout_share == 0.0:
            return held
        seed_rows = np.flatnonzero(seed_mask)
        n_hold = max(1, round(self.holdout_share * seed_rows.size))
        rng = np.random.default_rng([self.seed, 1])
        held[rng.choice(seed_rows, size=n_hold, replace=False)] = True
        return held

    def _oof_scores(
        self,
        matrix: np.ndarray,
        label: np.ndarray,
        folds: np.ndarray,
        names: list[str],
    ) -> np.ndarray:
        scores = np.empty(matrix.shape[0], dtype=float)
        for k in range(self.n_folds):
            test = folds == k
            rows, weight = self._training_rows(~test, label, fold=k)
            booster = self._train(
                matrix[rows], label[rows].astype(float), names, weight
            )
            dtest = xgb.DMatrix(matrix[test], feature_names=names, nthread=self.nthread)
            scores[test] = booster.predict(dtest)
        return scores

    def evaluate(
        self, scores: np.ndarray, is_seed: np.ndarray, heldout: np.ndarray
    ) -> LookalikeModel:
        """Recall and lift per tier of the held-out seed members.

        ``scores`` and ``heldout`` as returned by ``out_of_fold_scores``:
        the held-out members are ranked among the unlabeled, exactly like the
        lookalikes we hope to find. Sets ``recall_by_tier_``,
        ``top_tier_lift_`` and ``evaluation_`` (all None without held-out
        members).
        """
        self.recall_by_tier_ = None
        self.top_tier_lift_ = None
        self.evaluation_ = None
        seed_mask = _as_seed_mask(is_seed)
        held = _as_seed_mask(heldout)
        if not held.any():
            return self
        train_seed = seed_mask & ~held
        _, tier = _rank_non_seed(np.asarray(scores, dtype=float), train_seed)
        held_tier = tier[held]
        n_rank = int((~train_seed).sum())
        recall, share, lift = {}, {}, {}
        for x in TIERS:
            in_tier = (tier >= 1) & (tier <= x)
            held_in = (held_tier >= 1) & (held_tier <= x)
            recall[x] = float(held_in.mean())
            share[x] = float(in_tier.sum() / n_rank)
            lift[x] = recall[x] / share[x] if share[x] > 0 else float("nan")
        self.recall_by_tier_ = recall
        self.top_tier_lift_ = lift[TIERS[0]]
        self.evaluation_ = {
            "heldout_seed": int(held.sum()),
            "training_seed": int(train_seed.sum()),
            "ranked_customers": n_rank,
            "recall_by_tier": recall,
            "tier_share": share,
            "lift_by_tier": lift,
        }
        return self

    # -- reuse -------------------------------------------------------------
    def score(self, X: pd.DataFrame) -> np.ndarray:
        """Score new customers with the final full-data model.

        Returns floats in [0, 1] (same scale as ``lookalike_score``). Use it for
        customers that were not in the training frame; for those that were,
        use the out-of-fold scores of ``fit_score``.
        """
        if self.booster_ is None or self.features_ is None:
            raise ValueError(
                "no final model: call fit_score with final_model=True first "
                "(or load one with LookalikeModel.from_bytes)"
            )
        matrix = _select_features(X, self.features_)
        dmat = xgb.DMatrix(matrix, feature_names=self.features_, nthread=self.nthread)
        return self.booster_.predict(dmat).astype(float)

    def to_bytes(self) -> bytes:
        """Serialize the final model, its settings and evaluation (JSON bytes)."""
        if self.booster_ is None or self.features_ is None:
            raise ValueError("nothing to serialize: fit with final_model=True first")
        payload = {
            "format": _FORMAT,
            "settings": {
                "n_folds": self.n_folds,
                "seed": self.seed,
                "nthread": self.nthread,
                "params": self.params,
                "holdout_share": self.holdout_share,
                "final_model": self.final_model,
                "max_unlabeled_rows": self.max_unlabeled_rows,
            },
            "features": self.features_,
            "dropped_features": self.dropped_features_,
            "evaluation": _json_keys(self.evaluation_),
            "booster_ubj": base64.b64encode(
                bytes(self.booster_.save_raw("ubj"))
            ).decode("ascii"),
        }
        return json.dumps(payload, sort_keys=True).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> LookalikeModel:
        """Rebuild a model written by ``to_bytes``; ``score`` gives identical output."""
        try:
            payload = json.loads(bytes(data).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(
                "not a serialized LookalikeModel (expected JSON from to_bytes)"
            ) from err
        if payload.get("format") != _FORMAT:
            raise ValueError(
                f"format {payload.get('format')!r} is not {_FORMAT!r}; "
                "pass bytes written by LookalikeModel.to_bytes"
            )
        model = cls(**payload["settings"])
        model.features_ = list(payload["features"])
        model.dropped_features_ = list(payload["dropped_features"])
        evaluation = payload["evaluation"]
        if evaluation is not None:
            evaluation = _int_keys(evaluation)
            model.evaluation_ = evaluation
            model.recall_by_tier_ = evaluation["recall_by_tier"]
            model.top_tier_lift_ = evaluation["lift_by_tier"][TIERS[0]]
        booster = xgb.Booster(params={"nthread": model.nthread})
        booster.load_model(bytearray(base64.b64decode(payload["booster_ubj"])))
        model.booster_ = booster
        return model


# -- helpers -----------------------------------------------------------------
def _as_seed_mask(is_seed: np.ndarray) -> np.ndarray:
    arr = np.asarray(is_seed)
    if arr.ndim != 1:
        raise ValueError(f"is_seed has shape {arr.shape}; pass a 1-D boolean vector")
    if arr.dtype == bool:
        return arr
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(
            f"is_seed has dtype {arr.dtype}; pass booleans (True = in the seed)"
        )
    values = arr.astype(float)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        raise ValueError(
            f"is_seed has {int(bad.sum())} values other than 0/1 (nulls count); "
            "pass booleans (True = in the seed)"
        )
    return values == 1.0


def _numeric_matrix(X: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Float matrix of ``X`` (nulls -> NaN); ValueError for unusable columns."""
    columns = [str(c) for c in X.columns]
    if not columns:
        raise ValueError("X has no columns; pass at least one feature column")
    if len(set(columns)) != len(columns):
        raise ValueError("X has duplicate column names; make them unique")
    bad = [
        str(c)
        for c in X.columns
        if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
    ]
    if bad:
        raise ValueError(
            f"X has non-numeric columns {bad}; pass numeric or boolean features "
            "(encode categories, move ids such as customer_id to the index)"
        )
    matrix = np.column_stack(
        [X[c].to_numpy(dtype=float, na_value=np.nan) for c in X.columns]
    )
    infinite = np.isinf(matrix).sum(axis=0)
    if infinite.any():
        where = {columns[j]: int(n) for j, n in enumerate(infinite) if n}
        raise ValueError(
            f"X has infinite values {where}; replace them with null or finite numbers"
        )
    return matrix, columns


def _informative_columns(matrix: np.ndarray) -> np.ndarray:
    """True for columns that are neither all-null nor constant.

    A column whose non-null values are all equal but which has some nulls is
    kept: being null (e.g. never ordered) is itself informative.
    """
    keep = np.zeros(matrix.shape[1], dtype=bool)
    for j in range(matrix.shape[1]):
        col = matrix[:, j]
        present = col[~np.isnan(col)]
        if present.size == 0:
            continue
        has_null = present.size < col.size
        keep[j] = has_null or bool(np.ptp(present) > 0)
    return keep


def _select_features(X: pd.DataFrame, features: list[str]) -> np.ndarray:
    if not isinstance(X, pd.DataFrame):
        raise ValueError("X must be a pandas DataFrame of customer features")
    by_name = {str(c): c for c in X.columns}
    missing = [f for f in features if f not in by_name]
    if missing:
        raise ValueError(
            f"X lacks feature columns {missing} the model was trained on; "
            "pass the same feature columns as at training"
        )
    matrix, _ = _numeric_matrix(X[[by_name[f] for f in features]])
    return matrix


def _fold_ids(n: int, n_folds: int, seed: int) -> np.ndarray:
    """Fold of each row: a seeded shuffle of row positions, label-blind on purpose.

    Folds that ignore the labels guarantee that a row's out-of-fold score does
    not change when only its own label changes.
    """
    if n < n_folds:
        raise ValueError(f"{n} rows cannot be split into {n_folds} folds")
    perm = np.random.default_rng([seed, 0]).permutation(n)
    folds = np.empty(n, dtype=np.int64)
    folds[perm] = np.arange(n) % n_folds
    return folds


def ranked_scores(
    scores: np.ndarray, is_seed: np.ndarray, index: pd.Index | None = None
) -> pd.DataFrame:
    """The published lookalike columns from out-of-fold scores.

    Returns a frame (``index``, default positions) with ``lookalike_score``,
    ``lookalike_percentile`` (0-100 among NON-seed customers, 100 = most
    similar: percent of non-seed customers scored at or below; null for seed
    members), ``lookalike_tier`` (nullable integer 1, 2, 5 or 10: the
    smallest top-x % tier of the non-seed ranking holding the customer; null
    below the top 10 % and for seed members; ties at a tier edge all join)
    and ``is_seed``.
    """
    seed_mask = _as_seed_mask(is_seed)
    scores = np.asarray(scores, dtype=float)
    percentile, tier = _rank_non_seed(scores, seed_mask)
    return pd.DataFrame(
        {
            "lookalike_score": scores,
            "lookalike_percentile": percentile,
            "lookalike_tier": pd.arrays.IntegerArray(tier, mask=tier == 0),
            "is_seed": seed_mask,
        },
        index=index,
    )


def _rank_non_seed(
    scores: np.ndarray, seed_mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile (0-100, NaN for seed) and tier (0 = none) among non-seed rows."""
    percentile = np.full(scores.shape[0], np.nan)
    tier = np.zeros(scores.shape[0], dtype=np.int64)
    rest = ~seed_mask
    n = int(rest.sum())
    # "max" rank: the count of non-seed customers scored at or below this one,
    # so ties share a percentile and a tier.
    at_or_below = rankdata(scores[rest], method="max").astype(np.int64)
    percentile[rest] = 100.0 * at_or_below / n
    above = n - at_or_below
    rest_tier = np.zeros(n, dtype=np.int64)
    for x in sorted(TIERS, reverse=True):
        # percentile > 100 - x  <=>  above / n < x / 100, in exact integers.
        rest_tier[above * 100 < x * n] = x
    tier[rest] = rest_tier
    return percentile, tier


def _json_keys(evaluation: dict[str, Any] | None) -> dict[str, Any] | None:
    if evaluation is None:
        return None
    return {
        k: ({str(t): v for t, v in val.items()} if isinstance(val, dict) else val)
        for k, val in evaluation.items()
    }


def _int_keys(evaluation: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (
            {int(t): val[t] for t in sorted(val, key=int)}
            if isinstance(val, dict)
            else val
        )
        for k, val in evaluation.items()
    }


# ------------------------------------------------------------ training runs


def seed_from_value(predicted_value: np.ndarray, share: float) -> np.ndarray:
    """The lookalike seed: the top ``share`` of customers by predicted value.

    Ties at the edge are broken by position (callers sort by customer id), so
    the seed has exactly ``round(share * n)`` members; missing values never
    enter it. When every known value is the same (e.g. a predicted CLV of 0
    for everyone: no purchase history), nobody stands above the others and
    the seed is empty.
    """
    values = pd.Series(np.asarray(predicted_value, dtype=float))
    known = values.dropna()
    if known.empty or known.min() == known.max():
        return np.zeros(len(values), dtype=bool)
    size = round(share * int(values.notna().sum()))
    order = np.argsort(-values.fillna(-np.inf).to_numpy(), kind="stable")
    seed = np.zeros(len(values), dtype=bool)
    seed[order[:size]] = True
    return seed


MAX_UNLABELED_ROWS = 100_000
"""Default cap on the unlabeled rows each booster of a run trains on."""


def seed_values(customers: pd.DataFrame) -> tuple[np.ndarray, str]:
    """The value the seed is the top of, and its name.

    The predicted CLV (column ``predicted_clv``) when any customer has one;
    else, when no CLV model serves, the realized net revenue so far
    (``monetary_net``), so that a warehouse without CLV still finds the
    customers who resemble its best ones.
    """
    predicted = customers["predicted_clv"].to_numpy(dtype=float)
    if np.isfinite(predicted).any() or PAST_SEED_VALUE not in customers.columns:
        return predicted, "predicted_clv"
    return customers[PAST_SEED_VALUE].to_numpy(dtype=float), PAST_SEED_VALUE


def _numeric_features(
    customers: pd.DataFrame, features: list[str]
) -> tuple[list[str], list[str]]:
    """(numeric or boolean features, the others): the PU model takes numbers."""
    non_numeric = [
        f
        for f in features
        if not (
            pd.api.types.is_numeric_dtype(customers[f])
            or pd.api.types.is_bool_dtype(customers[f])
        )
    ]
    return [f for f in features if f not in non_numeric], non_numeric


def _varying(customers: pd.DataFrame, features: list[str]) -> list[str]:
    """The numeric features that are neither all-null nor constant."""
    if not features:
        return []
    matrix, _ = _numeric_matrix(customers[features])
    keep = _informative_columns(matrix)
    return [f for f, k in zip(features, keep, strict=True) if k]


def seed_frame(customer_ids: pd.Series, is_seed: np.ndarray) -> pd.DataFrame:
    """The seed without a pass: the frame of ``lookalike_out_of_fold`` unscored.

    Returns one row per customer id (same order): ``customer_id``,
    ``is_lookalike_seed``, ``is_heldout_seed`` (all False) and
    ``lookalike_score`` (all NaN). A build that does not retrain publishes
    this (no fold model is fitted) and ranks the serving model's scores
    against its seed (``score_latest_approved``).
    """
    seed_mask = _as_seed_mask(is_seed)
    ids = np.asarray(customer_ids)
    if ids.shape[0] != seed_mask.size:
        raise ValueError(
            f"{ids.shape[0]} customer ids but {seed_mask.size} seed flags; "
            "pass one seed flag per customer, in the same order"
        )
    return pd.DataFrame(
        {
            "customer_id": ids,
            "is_lookalike_seed": seed_mask,
            "is_heldout_seed": np.zeros(seed_mask.size, dtype=bool),
            "lookalike_score": np.full(seed_mask.size, np.nan),
        }
    )


def score_latest_approved(
    registry_rows: pd.DataFrame, customers: pd.DataFrame, is_seed: np.ndarray
) -> pd.DataFrame:
    """Published lookalike scores from the latest approved model, without fitting.

    For a build that does not retrain (var ``retrain`` false): the final
    model of the latest approved ``lookalike`` registry row scores every
    customer (``LookalikeModel.score``), ranked among the non-seed customers
    exactly like an out-of-fold pass (``ranked_scores``). Its scores are
    in-sample for the customers it was trained on, so on the training data
    they rank like, but do not equal, that run's out-of-fold scores.

    ``customers`` holds ``customer_id`` and the model's feature columns;
    ``is_seed`` the current seed in the same row order (seed members get a
    score but no percentile or tier). Returns one row per customer (same
    order): ``lookalike_score``, ``lookalike_percentile``, ``lookalike_tier``
    (nullable integer), ``lookalike_model_version`` and ``lookalike_note``
    (null when scored; without an approved model every score is null and the
    note says why, ``registry.no_model_note``). Raises ValueError when the
    customers lack a feature the model was trained on.
    """
    from . import registry

    seed_mask = _as_seed_mask(is_seed)
    if seed_mask.size != len(customers):
        raise ValueError(
            f"is_seed has {seed_mask.size} values but customers has "
            f"{len(customers)} rows; pass one seed flag per customer, in order"
        )
    out = pd.DataFrame(
        {
            "lookalike_score": np.full(len(customers), np.nan),
            "lookalike_percentile": np.full(len(customers), np.nan),
            "lookalike_tier": pd.array([None] * len(customers), dtype="Int64"),
            "lookalike_model_version": pd.Series([None] * len(customers), dtype=object),
            "lookalike_note": pd.Series([None] * len(customers), dtype=object),
        },
        index=customers.index,
    )
    serving = registry.latest_approved(registry_rows, "lookalike")
    if serving is None:
        out["lookalike_note"] = registry.no_model_note(registry_rows, "lookalike")
        return out
    model = LookalikeModel.from_bytes(bytes(serving["artifact"]))
    try:
        scores = model.score(customers)
    except ValueError as err:
        raise ValueError(
            f"lookalike model {serving['model_version']} cannot score today's "
            f"customers: {err}; build with retrain true to train a new one"
        ) from err
    ranked = ranked_scores(scores, seed_mask, index=customers.index)
    out["lookalike_score"] = ranked["lookalike_score"]
    out["lookalike_percentile"] = ranked["lookalike_percentile"]
    out["lookalike_tier"] = ranked["lookalike_tier"]
    out["lookalike_model_version"] = serving["model_version"]
    return out


def lookalike_out_of_fold(
    customers: pd.DataFrame,
    is_seed: np.ndarray,
    *,
    features: list[str],
    seed: int = 0,
    nthread: int = 1,
    max_unlabeled_rows: int | None = MAX_UNLABELED_ROWS,
) -> pd.DataFrame:
    """The one out-of-fold pass of a run, for its registry row and its scores.

    Returns one row per customer (``customers`` order): ``customer_id``,
    ``is_lookalike_seed``, ``is_heldout_seed`` (seed members held out for the
    evaluation, trained on as unlabeled) and ``lookalike_score`` (out of
    fold; null for everyone when the seed is not eligible, see
    ``check_seed``). ``lookalike_run(..., out_of_fold=this)`` evaluates and
    gates it without fitting the fold models again.
    """
    seed_mask = _as_seed_mask(is_seed)
    out = seed_frame(customers["customer_id"], seed_mask)
    ok, _, _ = check_seed(seed_mask)
    numeric, _ = _numeric_features(customers, features)
    if not ok or not _varying(customers, numeric):
        return out
    model = LookalikeModel(
        seed=seed, nthread=nthread, max_unlabeled_rows=max_unlabeled_rows
    )
    scores, heldout = model.out_of_fold_scores(customers[numeric], seed_mask)
    out["is_heldout_seed"] = heldout
    out["lookalike_score"] = scores
    return out


#: The tier whose future value gates the model (``future_value_lift``): the
#: top 5 % of non-seed customers, the middle audience (lookalike_top_5).
FUTURE_VALUE_TIER = 5
#: The realized value that defines the seed at the past cutoff.
PAST_SEED_VALUE = "monetary_net"


def future_value_check(
    examples: pd.DataFrame,
    *,
    features: list[str],
    seed_share: float,
    horizon_days: int,
    seed: int = 0,
    nthread: int = 1,
    max_unlabeled_rows: int | None = MAX_UNLABELED_ROWS,
) -> dict[str, Any]:
    """What the lookalikes found at a past cutoff went on to spend.

    ``examples`` are the customers at a past cutoff (``ml_clv_examples``:
    their features then, ``window_revenue`` in the ``horizon_days`` after,
    ``has_full_history``). The seed then is the top ``seed_share`` by
    realized net revenue before the cutoff (``monetary_net``, left out of the
    features, as the predicted CLV is at serving); a lookalike pass ranks the
    other customers out of fold, and each tier's non-seed members are
    compared with all non-seed customers on the revenue they brought after
    the cutoff, which no model saw. That is what a user acts on: do the
    lookalikes become valuable? Returns metrics: ``future_value_lift`` (mean
    revenue of the non-seed customers in the top :data:`FUTURE_VALUE_TIER` %
    tier / mean of all non-seed customers), ``future_value_lift_by_tier``,
    ``future_value_cutoff``, ``future_value_horizon_days`` and
    ``future_value_customers``; without a measurable past (no examples, no
    full window, no seed, no non-seed revenue) ``future_value_lift`` is None
    and ``future_value_note`` says why.
    """
    note = None
    if examples.empty:
        note = "no customers at a past cutoff with a full CLV window after it"
    elif not bool(examples["has_full_history"].all()):
        note = (
            f"the orders start after the past cutoff: no full {horizon_days}-day "
            "window to measure what lookalikes went on to spend"
        )
    elif PAST_SEED_VALUE not in examples.columns:
        note = f"the examples have no {PAST_SEED_VALUE} to define a past seed"
    result: dict[str, Any] = {
        "future_value_lift": None,
        "future_value_tier": FUTURE_VALUE_TIER,
        "future_value_horizon_days": int(horizon_days),
        "future_value_customers": len(examples),
    }
    if note is None:
        result["future_value_cutoff"] = str(
            pd.Timestamp(examples["cutoff_date"].max()).date()
        )
        is_seed = seed_from_value(
            examples[PAST_SEED_VALUE].to_numpy(dtype=float), seed_share
        )
        columns = [
            c for c in features if c in examples.columns and c != PAST_SEED_VALUE
        ]
        oof = lookalike_out_of_fold(
            examples,
            is_seed,
            features=columns,
            seed=seed,
            nthread=nthread,
            max_unlabeled_rows=max_unlabeled_rows,
        )
        scores = oof["lookalike_score"].to_numpy(dtype=float)
        revenue = examples["window_revenue"].to_numpy(dtype=float)
        non_seed_mean = float(revenue[~is_seed].mean()) if (~is_seed).any() else 0.0
        if np.isnan(scores).all():
            note = "the past seed is not eligible or no feature varies"
        elif non_seed_mean <= 0:
            note = "the non-seed customers brought no net revenue after the cutoff"
        else:
            _, tier = _rank_non_seed(scores, is_seed)
            by_tier = {
                str(x): float(revenue[(tier > 0) & (tier <= x)].mean() / non_seed_mean)
                for x in TIERS
                if ((tier > 0) & (tier <= x)).any()
            }
            result["future_value_lift_by_tier"] = by_tier
            result["future_value_lift"] = by_tier.get(str(FUTURE_VALUE_TIER))
            result["future_value_seed_size"] = int(is_seed.sum())
    if note is not None:
        result["future_value_note"] = note
    return result


def lookalike_run(
    customers: pd.DataFrame,
    is_seed: np.ndarray,
    *,
    features: list[str],
    as_of_date: Any,
    run_id: str,
    trained_at: Any,
    min_top_tier_lift: float,
    seed: int = 0,
    nthread: int = 1,
    max_unlabeled_rows: int | None = MAX_UNLABELED_ROWS,
    out_of_fold: pd.DataFrame | None = None,
    future_value: dict[str, Any] | None = None,
    min_future_value_lift: float | None = None,
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """Fit, evaluate and gate the lookalike model.

    Returns the registry row and the out-of-fold scores (``ranked_scores``;
    None when the seed is not eligible). The row's metrics hold
    recall_by_tier (share of held-out seed members inside each tier) and
    top_tier_lift, and the metrics of ``future_value`` (see
    :func:`future_value_check`). Gates: top_tier_lift >=
    ``min_top_tier_lift``, and future_value_lift >= ``min_future_value_lift``
    whenever it was measured. With ``out_of_fold`` (``lookalike_out_of_fold`` of the
    same customers, seed and features) the fold models are not fitted again:
    only the final model is.
    """
    from . import registry

    # The PU model takes numbers; categorical columns are left out (recorded).
    features, non_numeric = _numeric_features(customers, features)
    parameters = {
        "seed": seed,
        "min_top_tier_lift": min_top_tier_lift,
        "min_future_value_lift": min_future_value_lift,
        "non_numeric_features_left_out": non_numeric,
        "max_unlabeled_rows": max_unlabeled_rows,
    }
    row = {
        "kind": "lookalike",
        "as_of_date": as_of_date,
        "training_cutoff": as_of_date,
        "parameters": parameters,
        "features": features,
        "fingerprint": registry.data_fingerprint(
            customers[["customer_id", *features]].assign(is_seed=is_seed)
        ),
        "run_id": run_id,
        "trained_at": trained_at,
    }
    ok, reason, warning = check_seed(is_seed)
    if len(customers) == 0:
        reason = "no customers: the feature table is empty, there is no seed to find"
    elif not np.any(is_seed):
        reason = (
            f"the seed is empty: none of the {len(customers)} customers has a "
            "predicted CLV above the others (no approved CLV model, or the same "
            "value for everyone, e.g. no purchase history)"
        )
    if ok and not _varying(customers, features):
        ok, reason = (
            False,
            (
                f"none of the {len(features)} numeric features varies among the "
                f"{len(customers)} customers (each is all null or constant): "
                "nothing tells the seed apart"
            ),
        )
    if not ok:
        return (
            registry.registry_row(
                **row,
                status=registry.INSUFFICIENT_DATA,
                reason=reason,
                metrics={"seed_size": int(np.sum(is_seed))},
                artifact=None,
            ),
            None,
        )
    model = LookalikeModel(
        seed=seed, nthread=nthread, max_unlabeled_rows=max_unlabeled_rows
    )
    if out_of_fold is None:
        out_of_fold = lookalike_out_of_fold(
            customers,
            is_seed,
            features=features,
            seed=seed,
            nthread=nthread,
            max_unlabeled_rows=max_unlabeled_rows,
        )
    elif not np.array_equal(
        out_of_fold["customer_id"].to_numpy(), customers["customer_id"].to_numpy()
    ) or not np.array_equal(
        out_of_fold["is_lookalike_seed"].to_numpy(dtype=bool), _as_seed_mask(is_seed)
    ):
        raise ValueError(
            "out_of_fold is for other customers or another seed: pass "
            "lookalike_out_of_fold of the same customers (same order) and seed"
        )
    oof_scores = out_of_fold["lookalike_score"].to_numpy(dtype=float)
    model.evaluate(
        oof_scores, is_seed, out_of_fold["is_heldout_seed"].to_numpy(dtype=bool)
    )
    model.fit_final(customers[features], is_seed)
    scores = ranked_scores(oof_scores, is_seed, index=customers.index)
    metrics = {
        "seed_size": int(np.sum(is_seed)),
        "population": len(customers),
        "recall_by_tier": {str(k): v for k, v in (model.recall_by_tier_ or {}).items()},
        "top_tier_lift": model.top_tier_lift_,
        "seed_warning": warning,
        "dropped_features": model.dropped_features_,
        **(future_value or {}),
    }
    gates = {"top_tier_lift": min_top_tier_lift}
    if (
        min_future_value_lift is not None
        and metrics.get("future_value_lift") is not None
    ):
        gates["future_value_lift"] = min_future_value_lift
    gate = registry.evaluate_gates(metrics, gates)
    artifact = model.to_bytes()
    return (
        registry.registry_row(
            **row,
            status=gate.status,
            reason=gate.reason,
            metrics=metrics,
            artifact=artifact,
        ),
        scores,
    )
