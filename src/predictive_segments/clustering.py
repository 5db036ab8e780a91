"""Behavioral segmentation with stable segment ids and readable names.

``SegmentModel`` clusters customers on behavioral features only and gives a
BI user what they need to rely on the result:

* **Preprocessing stored in the model** (decided on the training data, applied
  identically at prediction): per column, nulls are replaced by the training
  median; values are clipped at the training 1st/99th percentiles (when those
  are equal, as for a mostly-zero count, at the min/max instead, so the column
  keeps its information); a column that is non-negative and right-skewed
  (sample skewness of the clipped values > 1) is transformed with ``log1p``;
  finally every column is standardized to mean 0 and standard deviation 1 (a
  constant column gets scale 1 and so contributes nothing).
* **k chosen automatically** in ``k_range`` (inclusive). With ``method =
  "kmeans"`` each candidate k is fitted on all rows (sklearn ``KMeans`` with
  ``n_init`` restarts and ``random_state = seed``) and the k with the highest
  silhouette wins; the silhouette is computed in the standardized space on one
  seeded sample of ``sample_size`` rows (the same rows for every k), because
  it costs O(sample_size^2) time; all candidates share one pass over that
  sample's pairwise distances (``_silhouettes``). With ``method = "gmm"``
  each k is a full-covariance ``GaussianMixture`` and the k with the lowest
  BIC (on all rows) wins. Ties go to the smaller k.
* **Stable ids.** Without a previous model, ids are 1..k in descending order
  of the segment's mean of the value feature (raw units), ties and the case
  without a value feature by descending size. With ``previous``, the new
  cluster centers are mapped to raw units, transformed with the *previous*
  model's preprocessing, and matched to the previous centers in the previous
  model's standardized space (Euclidean distance) with the Hungarian
  algorithm: a matched cluster inherits the previous id, extra clusters get
  ids above the highest id ever issued (``max_id_ever_``), and previous ids
  without a match are listed in ``vanished_ids_``. Every pair the Hungarian
  algorithm forms is kept, however far apart (``match_distances_`` reports
  the distances so a caller can flag a poor match).
* **Readable names** (``segment_names_``): a segment whose mean on a role
  feature (``roles``, e.g. value, frequency, recency) is at least 0.5 SD
  above or below the population in the standardized space earns that role's
  word (``ROLE_WORDS``); the value level leads ("High value", "Mid value",
  "Low value"), "Lapsed" goes first, and at most three other words follow,
  strongest first: "Lapsed · low value · low engagement". Segments with
  fewer than two role words borrow words from other features ("high widget
  clicks"). Names that collide get words down to 0.25 SD, then ``#<id>``.
* **Determinism**: the same data, settings and seed give a bit-identical
  model (``to_bytes``); threads are pinned to ``n_threads`` because KMeans
  results depend on the thread count. The model serializes to JSON.
* **Eligibility**: ``fit`` needs ``min_rows()`` rows (10 per cluster at the
  largest k); callers check that first.

Features named like sensitive attributes (gender, age, birth date, country,
...) are rejected: segments must not be built on them.

``micro_segments`` crosses segment, value tier and churn-risk band into
labels with a minimum size; ``assign_segments`` publishes segments of a
minimum size too (``merge_small_segments``) on the customers it scores.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.stats import skew
from threadpoolctl import threadpool_limits

from predictive_segments.metrics import adjusted_rand
from predictive_segments.ml_libs import GaussianMixture, KMeans

__all__ = [
    "DEFAULT_ROLES",
    "ROLE_WORDS",
    "SegmentModel",
    "merge_small_segments",
    "micro_segments",
    "segment_min_size",
]

_FORMAT = "predictive_segments.SegmentModel"
_FORMAT_VERSION = 1

# Column-name tokens that denote protected or sensitive attributes.
_SENSITIVE_TOKENS = frozenset(
    {"age", "sex", "gender", "race", "ethnicity", "religion", "nationality", "dob"}
)
# Substrings that are sensitive wherever they appear (birth_year, birthdate,
# country_code, ...).
_SENSITIVE_SUBSTRINGS = ("gender", "birth", "country", "ethnic", "nationality")

# A non-negative column with a larger sample skewness is log1p-transformed.
_SKEW_THRESHOLD = 1.0
_CLIP_PERCENTILES = (1.0, 99.0)
# A segment whose standardized mean is this far from 0 (in population standard
# deviations) earns a descriptor in its name.
_NAME_THRESHOLD = 0.5
# Weaker threshold used only to tell apart segments that got the same name.
_DISAMBIGUATION_THRESHOLD = 0.25
_MAX_DESCRIPTORS = 3
# Each candidate k needs this many training rows per cluster on average.
_MIN_ROWS_PER_CLUSTER = 10

# Feature columns of feat_customers that play each naming role; used when the
# caller passes no ``roles``.
DEFAULT_ROLES: dict[str, str] = {
    "value": "monetary_net",
    "frequency": "orders_last_365d",
    "recency": "recency_days",
    "premium": "premium_spend_share",
    "budget": "budget_spend_share",
    "marketplace": "marketplace_order_share",
    "engagement": "sessions_last_90d",
    "browsing": "avg_events_per_session",
    "email": "email_open_rate_90d",
    "tenure": "tenure_days",
}

# Words for a segment well above / well below the population on each role
# (None: that side says nothing). Recency is "days since the last order": high
# means lapsed.
ROLE_WORDS: dict[str, tuple[str | None, str | None]] = {
    "value": ("high value", "low value"),
    "recency": ("lapsed", "recently active"),
    "frequency": ("frequent", "occasional"),
    "premium": ("premium", None),
    "budget": ("budget", None),
    "marketplace": ("marketplace buyers", None),
    "engagement": ("highly engaged", "low engagement"),
    "browsing": ("deep browsing", None),
    "email": ("email responsive", "email quiet"),
    "tenure": ("long-standing", "new"),
}
# Order in which descriptors compete for a place in a name when equally strong.
_DESCRIPTOR_ROLES = (
    "recency",
    "frequency",
    "premium",
    "budget",
    "marketplace",
    "engagement",
    "browsing",
    "email",
    "tenure",
)


# --------------------------------------------------------------------------
# input validation


def _sensitive(name: str) -> bool:
    lowered = name.lower()
    tokens = set(re.split(r"[^a-z0-9]+", lowered))
    return bool(tokens & _SENSITIVE_TOKENS) or any(
        s in lowered for s in _SENSITIVE_SUBSTRINGS
    )


def _check_not_sensitive(columns: list[str]) -> None:
    bad = [c for c in columns if _sensitive(c)]
    if bad:
        raise ValueError(
            f"columns {bad} look like sensitive attributes (gender, age, birth "
            "date, country, ...); segments are built on behavioral features "
            "only: drop these columns before fitting"
        )


def _numeric_matrix(X: pd.DataFrame, features: list[str]) -> np.ndarray:
    """Return ``X[features]`` as a float64 matrix (NaN for nulls); ValueError
    for a missing, non-numeric or infinite column."""
    if not isinstance(X, pd.DataFrame):
        raise ValueError(f"X must be a pandas DataFrame, got {type(X).__name__}")
    missing = [c for c in features if c not in X.columns]
    if missing:
        raise ValueError(
            f"X has no column(s) {missing} (found: {list(X.columns)}); pass the "
            "features the model was fitted on"
        )
    out = np.empty((len(X), len(features)), dtype=np.float64)
    for j, col in enumerate(features):
        s = X[col]
        if not pd.api.types.is_numeric_dtype(s.dtype):
            raise ValueError(
                f"column {col} has non-numeric type {s.dtype}; pass numeric "
                "behavioral features (encode categories beforehand or drop them)"
            )
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        n_inf = int(np.isinf(values).sum())
        if n_inf:
            raise ValueError(
                f"column {col} has {n_inf} infinite values; replace them with "
                "nulls or finite numbers"
            )
        out[:, j] = values
    return out


def _check_labels(labels: object, n: int, name: str) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must be 1-D with {n} entries, got shape {arr.shape}")
    if pd.isna(arr).any():
        raise ValueError(f"{name} has missing values; give every row a label")
    return arr


# --------------------------------------------------------------------------
# preprocessing


@dataclass
class _Preprocessor:
    """Per-column impute -> clip -> optional log1p -> standardize."""

    median: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    log: np.ndarray  # bool per column
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, raw: np.ndarray, features: list[str]) -> _Preprocessor:
        p = raw.shape[1]
        median, lower, upper = np.empty(p), np.empty(p), np.empty(p)
        log = np.zeros(p, dtype=bool)
        mean, scale = np.empty(p), np.empty(p)
        for j in range(p):
            col = raw[:, j]
            known = col[~np.isnan(col)]
            if known.size == 0:
                raise ValueError(
                    f"column {features[j]} is null for every row; drop it from "
                    "the features"
                )
            median[j] = np.median(known)
            col = np.where(np.isnan(col), median[j], col)
            lo, hi = np.percentile(col, _CLIP_PERCENTILES)
            if lo == hi:
                # A mostly-constant column (e.g. a rare count): percentile
                # clipping would erase it, so only the observed range applies.
                lo, hi = col.min(), col.max()
            lower[j], upper[j] = lo, hi
            col = np.clip(col, lo, hi)
            if lo >= 0 and hi > lo and float(skew(col)) > _SKEW_THRESHOLD:
                log[j] = True
                col = np.log1p(col)
            mean[j] = col.mean()
            sd = col.std()
            scale[j] = sd if sd > 0 else 1.0
        return cls(median, lower, upper, log, mean, scale)

    def transform(self, raw: np.ndarray) -> np.ndarray:
        x = np.where(np.isnan(raw), self.median, raw)
        x = np.clip(x, self.lower, self.upper)
        # Clipping keeps log columns >= their training minimum (>= 0).
        x = np.where(self.log, np.log1p(np.where(self.log, x, 0.0)), x)
        return (x - self.mean) / self.scale

    def inverse(self, z: np.ndarray) -> np.ndarray:
        x = z * self.scale + self.mean
        return np.where(self.log, np.expm1(np.where(self.log, x, 0.0)), x)

    def to_dict(self) -> dict[str, list]:
        return {
            "median": self.median.tolist(),
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
            "log": self.log.tolist(),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, list]) -> _Preprocessor:
        return cls(
            median=np.asarray(d["median"], dtype=np.float64),
            lower=np.asarray(d["lower"], dtype=np.float64),
            upper=np.asarray(d["upper"], dtype=np.float64),
            log=np.asarray(d["log"], dtype=bool),
            mean=np.asarray(d["mean"], dtype=np.float64),
            scale=np.asarray(d["scale"], dtype=np.float64),
        )


# --------------------------------------------------------------------------
# cluster assignment (own code, so predictions are identical after a round
# trip through JSON, which restores the parameters but no sklearn object)


def _assign(z: np.ndarray, params: dict[str, np.ndarray], method: str) -> np.ndarray:
    """Return the internal cluster index (0..k-1) of every standardized row."""
    if method == "kmeans":
        centers = params["centers"]
        d2 = np.empty((z.shape[0], centers.shape[0]))
        for c in range(centers.shape[0]):
            d2[:, c] = ((z - centers[c]) ** 2).sum(axis=1)
        return np.argmin(d2, axis=1)
    # Full-covariance Gaussian log density via the Cholesky factor of each
    # precision matrix (precision = P P^T), as sklearn parametrizes it.
    means, prec_chol, weights = (
        params["centers"],
        params["prec_chol"],
        params["weights"],
    )
    d = z.shape[1]
    logp = np.empty((z.shape[0], means.shape[0]))
    for c in range(means.shape[0]):
        y = (z - means[c]) @ prec_chol[c]
        log_det = np.log(np.diag(prec_chol[c])).sum()
        logp[:, c] = (
            -0.5 * (d * np.log(2 * np.pi) + (y**2).sum(axis=1))
            + log_det
            + np.log(weights[c])
        )
    return np.argmax(logp, axis=1)


def _fit_estimator(
    z: np.ndarray, k: int, method: str, n_init: int, seed: int
) -> tuple[dict[str, np.ndarray], float | None]:
    """Fit one candidate; return its parameters and (GMM only) its BIC."""
    if method == "kmeans":
        km = KMeans(n_clusters=k, n_init=n_init, random_state=seed, algorithm="lloyd")
        km.fit(z)
        return {"centers": km.cluster_centers_.astype(np.float64)}, None
    gm = GaussianMixture(
        n_components=k,
        covariance_type="full",
        n_init=n_init,
        max_iter=300,
        random_state=seed,
    )
    gm.fit(z)
    params = {
        "centers": gm.means_.astype(np.float64),
        "covariances": gm.covariances_.astype(np.float64),
        "prec_chol": gm.precisions_cholesky_.astype(np.float64),
        "weights": gm.weights_.astype(np.float64),
    }
    return params, float(gm.bic(z))


def _silhouette(z: np.ndarray, labels: np.ndarray) -> float:
    return _silhouettes(z, [labels])[0]


# Rows of the pairwise-distance matrix held at once by ``_silhouettes``: a
# block of _SILHOUETTE_BLOCK x n float64 (40 MB at n = 20 000).
_SILHOUETTE_BLOCK = 256


def _silhouettes(z: np.ndarray, label_sets: list[np.ndarray]) -> list[float]:
    """Mean silhouette coefficient of each labelling of the rows of ``z``.

    The definition of ``sklearn.metrics.silhouette_score`` (Euclidean
    distances; a row alone in its cluster scores 0; a labelling with fewer
    than two clusters gets -1, the worst score), but every labelling shares
    one pass over the pairwise distances: each block of distance rows is
    multiplied by the stacked one-hot cluster indicators of all labellings,
    which gives every row's distance sum to every cluster of every labelling.
    So scoring all candidate k costs about one distance pass, O(n^2 (d + sum
    of k)), instead of one per k.
    """
    n = z.shape[0]
    codes, sizes = [], []
    for labels in label_sets:
        _, code = np.unique(labels, return_inverse=True)
        codes.append(code.reshape(-1))
        sizes.append(int(code.max()) + 1 if n else 0)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    onehot = np.zeros((n, int(offsets[-1])))
    rows = np.arange(n)
    for code, offset in zip(codes, offsets[:-1], strict=True):
        onehot[rows, offset + code] = 1.0
    sq = np.einsum("ij,ij->i", z, z)
    sums = np.empty((n, int(offsets[-1])))
    for start in range(0, n, _SILHOUETTE_BLOCK):
        stop = min(start + _SILHOUETTE_BLOCK, n)
        # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, as sklearn's euclidean_distances.
        block = z[start:stop] @ z.T
        block *= -2.0
        block += sq[start:stop, None]
        block += sq[None, :]
        np.maximum(block, 0.0, out=block)
        np.sqrt(block, out=block)
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0
        sums[start:stop] = block @ onehot
    out = []
    for code, size, offset in zip(codes, sizes, offsets[:-1], strict=True):
        if size < 2:
            out.append(-1.0)
            continue
        counts = np.bincount(code, minlength=size).astype(np.float64)
        to_cluster = sums[:, offset : offset + size]
        own_count = counts[code]
        with np.errstate(divide="ignore", invalid="ignore"):
            a = to_cluster[rows, code] / (own_count - 1.0)
            mean_to = to_cluster / counts
        mean_to[rows, code] = np.inf
        b = mean_to.min(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (b - a) / np.maximum(a, b)
        s[own_count == 1] = 0.0
        out.append(float(np.mean(np.nan_to_num(s))))
    return out


# --------------------------------------------------------------------------
# names


def _descriptor(role: str, zval: float, threshold: float) -> str | None:
    """Word of ``role`` for a standardized segment mean, or None."""
    high, low = ROLE_WORDS[role]
    if zval >= threshold:
        return high
    if zval <= -threshold:
        return low
    return None


def _feature_words(feature: str, high: bool) -> str:
    """Words for a segment high/low on a feature without a naming role."""
    words = feature.lower().split("_")
    if words[0] == "is" and len(words) > 1:
        rest = " ".join(words[1:])
        return rest if high else f"not {rest}"
    if words[0] == "has" and len(words) > 1:
        rest = " ".join(words[1:])
        return f"has {rest}" if high else f"no {rest}"
    return f"{'high' if high else 'low'} {' '.join(words)}"


def _name(
    zmean: dict[str, float],
    roles: dict[str, str],
    threshold: float,
    max_descriptors: int,
) -> str:
    """Build one segment name from its standardized feature means."""
    # (strength, tie-break rank, word)
    candidates: list[tuple[float, int, str]] = []
    for rank, role in enumerate(_DESCRIPTOR_ROLES):
        if role in roles:
            zval = zmean[roles[role]]
            word = _descriptor(role, zval, threshold)
            if word:
                candidates.append((abs(zval), rank, word))
    if len(candidates) < 2:
        # Few role features: describe the segment by its most distinctive
        # other features instead, so every segment still says something.
        role_cols = set(roles.values())
        others = sorted(
            (f for f in zmean if f not in role_cols),
            key=lambda f: (-abs(zmean[f]), f),
        )
        for rank, f in enumerate(others, start=len(_DESCRIPTOR_ROLES)):
            if abs(zmean[f]) < threshold or len(candidates) >= 2:
                break
            words = _feature_words(f, zmean[f] > 0)
            candidates.append((abs(zmean[f]), rank, words))
    candidates.sort(key=lambda t: (-t[0], t[1]))
    words = [w for _, _, w in candidates[:max_descriptors]]
    if "value" in roles:
        anchor = _descriptor("value", zmean[roles["value"]], threshold) or "mid value"
        words = [anchor, *words]
    if "lapsed" in words:
        # Reads best in front: "Lapsed · high value · ...".
        words.remove("lapsed")
        words = ["lapsed", *words]
    if not words:
        words = ["average profile"]
    words[0] = words[0][0].upper() + words[0][1:]
    return " · ".join(words)


def _segment_names(
    zmeans: dict[int, dict[str, float]], roles: dict[str, str]
) -> dict[int, str]:
    """Return {segment id: unique name}; duplicates get more descriptors, then
    the id."""
    names = {
        sid: _name(zm, roles, _NAME_THRESHOLD, _MAX_DESCRIPTORS)
        for sid, zm in zmeans.items()
    }

    def duplicated(current: dict[int, str]) -> set[int]:
        seen: dict[str, list[int]] = {}
        for sid, n in current.items():
            seen.setdefault(n, []).append(sid)
        return {sid for ids in seen.values() if len(ids) > 1 for sid in ids}

    for sid in sorted(duplicated(names)):
        names[sid] = _name(
            zmeans[sid], roles, _DISAMBIGUATION_THRESHOLD, len(_DESCRIPTOR_ROLES)
        )
    for sid in sorted(duplicated(names)):
        names[sid] = f"{names[sid]} · #{sid}"
    return dict(sorted(names.items()))


# --------------------------------------------------------------------------
# the model


class SegmentModel:
    """Behavioral segmentation with automatic k, stable ids and names.

    Parameters
    ----------
    k_range:
        Inclusive range of the number of segments to try.
    method:
        ``"kmeans"`` (k by silhouette) or ``"gmm"`` (k by BIC).
    sample_size:
        Rows in the seeded sample the silhouette is computed on (and the
        default evaluation sample of ``bootstrap_stability``). The silhouette
        costs O(sample_size^2); 20 000 rows take a few seconds for all k
        together.
    seed:
        Seed of every random draw (sample, estimator initialisation).
    n_init:
        Restarts of each KMeans / GaussianMixture fit; the best is kept.
    value_feature:
        Feature whose segment mean orders the ids of a first model (highest
        mean = id 1). Defaults to the ``value`` role.
    roles:
        ``{role: feature}`` for the names, roles from ``ROLE_WORDS``. ``None``
        uses ``DEFAULT_ROLES``. Roles whose feature is not among the fitted
        features are ignored (``roles_`` holds those used).
    n_threads:
        OpenMP/BLAS threads used while fitting and predicting. Fixed
        explicitly because KMeans sums in a thread-dependent order: the same
        data and seed give bit-identical models only with the same count.

    Fitted attributes: ``features_``, ``k_``, ``ids_`` (sorted segment ids),
    ``silhouette_``, ``k_scores_`` ({k: silhouette or BIC}), ``segment_names_``,
    ``centroids_``, ``max_id_ever_``, ``vanished_ids_``, ``match_distances_``
    ({id: distance of the matched centers, previous standardized units}),
    ``log_features_`` (features log1p-transformed).
    """

    def __init__(
        self,
        k_range: tuple[int, int] = (3, 10),
        method: str = "kmeans",
        sample_size: int = 20000,
        seed: int = 0,
        n_init: int = 10,
        value_feature: str | None = None,
        roles: dict[str, str] | None = None,
        n_threads: int = 2,
    ) -> None:
        k_lo, k_hi = (int(v) for v in k_range)
        if not 2 <= k_lo <= k_hi:
            raise ValueError(
                f"k_range must be (low, high) with 2 <= low <= high, got {k_range}"
            )
        if method not in ("kmeans", "gmm"):
            raise ValueError(f"method must be 'kmeans' or 'gmm', got {method!r}")
        if sample_size < 2 or n_init < 1 or n_threads < 1:
            raise ValueError("sample_size must be >= 2, n_init and n_threads >= 1")
        if roles is not None:
            unknown = sorted(set(roles) - set(ROLE_WORDS))
            if unknown:
                raise ValueError(
                    f"unknown roles {unknown}; use roles from {sorted(ROLE_WORDS)}"
                )
        self.k_range = (k_lo, k_hi)
        self.method = method
        self.sample_size = int(sample_size)
        self.seed = int(seed)
        self.n_init = int(n_init)
        self.value_feature = value_feature
        self.roles = None if roles is None else dict(roles)
        self.n_threads = int(n_threads)

    # ---------------------------------------------------------------- fit

    def min_rows(self) -> int:
        """Return the fewest training rows ``fit`` accepts (the eligibility
        check callers run first): 10 rows per cluster at the largest k."""
        return _MIN_ROWS_PER_CLUSTER * self.k_range[1]

    def fit(
        self, X: pd.DataFrame, previous: SegmentModel | None = None
    ) -> SegmentModel:
        """Fit on the behavioral feature columns of ``X`` (all of them).

        With ``previous`` (a fitted model on the same features), segment ids
        are carried over by matching centers. Returns ``self``.
        """
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"X must be a pandas DataFrame, got {type(X).__name__}")
        features = [str(c) for c in X.columns]
        if not features:
            raise ValueError("X has no columns; pass behavioral feature columns")
        _check_not_sensitive(features)
        if len(X) < self.min_rows():
            raise ValueError(
                f"{len(X)} rows is too few to try up to {self.k_range[1]} segments; "
                f"need at least {self.min_rows()} (check min_rows() first)"
            )
        if previous is not None:
            if not hasattr(previous, "features_"):
                raise ValueError("previous model is not fitted; fit it first")
            if sorted(previous.features_) != sorted(features):
                raise ValueError(
                    f"previous model was fitted on {previous.features_}, X has "
                    f"{features}; pass the same features or fit without previous"
                )
        value_feature = self.value_feature
        roles = dict(DEFAULT_ROLES if self.roles is None else self.roles)
        roles = {r: f for r, f in roles.items() if f in features}
        if value_feature is None:
            value_feature = roles.get("value")
        elif value_feature not in features:
            raise ValueError(
                f"value_feature {value_feature!r} is not among the features {features}"
            )

        raw = _numeric_matrix(X, features)
        pre = _Preprocessor.fit(raw, features)
        z = pre.transform(raw)
        with threadpool_limits(limits=self.n_threads):
            params, internal, scores, sil = self._select_k(z)

        self.features_ = features
        self.value_feature_ = value_feature
        self.roles_ = roles
        self._pre = pre
        self._params = params
        self.k_ = int(params["centers"].shape[0])
        self.k_scores_ = scores
        self.silhouette_ = sil
        self._assign_ids(raw, z, internal, previous)
        zmeans = {}
        for c in range(self.k_):
            members = internal == c
            center = z[members].mean(axis=0) if members.any() else params["centers"][c]
            zmeans[int(self._id_of[c])] = dict(
                zip(features, center.tolist(), strict=True)
            )
        self.segment_names_ = _segment_names(zmeans, roles)
        return self

    def _sample_index(self, n: int, size: int, seed: int) -> np.ndarray:
        if n <= size:
            return np.arange(n)
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(n, size=size, replace=False))

    def _select_k(
        self, z: np.ndarray, score: bool = True
    ) -> tuple[dict[str, np.ndarray], np.ndarray, dict[int, float], float]:
        """Fit every candidate k; return the winner's parameters, internal
        labels of all rows, {k: selection score} and its silhouette."""
        n = z.shape[0]
        k_hi = min(self.k_range[1], n - 1)
        sample = self._sample_index(n, self.sample_size, self.seed)
        candidates = []
        for k in range(self.k_range[0], k_hi + 1):
            params, bic = _fit_estimator(z, k, self.method, self.n_init, self.seed)
            candidates.append((k, params, _assign(z, params, self.method), bic))
        scores: dict[int, float] = {}
        if self.method == "gmm":
            scores = {k: float(bic) for k, _, _, bic in candidates}
        elif score:
            # One pass over the sample's pairwise distances scores every k.
            silhouettes = _silhouettes(
                z[sample], [labels[sample] for _, _, labels, _ in candidates]
            )
            scores = {c[0]: s for c, s in zip(candidates, silhouettes, strict=True)}
        best: tuple[float, int, dict[str, np.ndarray], np.ndarray] | None = None
        for k, params, labels, _ in candidates:
            if self.method == "gmm":
                key = -scores[k]
            elif score:
                key = scores[k]
            else:
                key = 0.0
            # Strictly better only, so ties keep the smaller k.
            if best is None or key > best[0]:
                best = (key, k, params, labels)
        assert best is not None
        _, k, params, labels = best
        if not score:
            sil = float("nan")
        elif self.method == "kmeans":
            sil = scores[k]
        else:
            sil = _silhouette(z[sample], labels[sample])
        return params, labels, scores, sil

    def _assign_ids(
        self,
        raw: np.ndarray,
        z: np.ndarray,
        internal: np.ndarray,
        previous: SegmentModel | None,
    ) -> None:
        k = self.k_
        sizes = np.bincount(internal, minlength=k)
        if self.value_feature_ is not None:
            j = self.features_.index(self.value_feature_)
            col = np.where(np.isnan(raw[:, j]), self._pre.median[j], raw[:, j])
            # A mixture component may win no row outright: use its center.
            center_value = self._pre.inverse(self._params["centers"])[:, j]
            value = np.array(
                [
                    col[internal == c].mean() if sizes[c] else center_value[c]
                    for c in range(k)
                ]
            )
        else:
            value = np.zeros(k)
        # Highest value first, then largest, then center coordinates, so the
        # order never depends on the estimator's arbitrary label numbering.
        centers = self._params["centers"]
        order = sorted(
            range(k), key=lambda c: (-value[c], -sizes[c], tuple(centers[c].tolist()))
        )
        id_of = np.zeros(k, dtype=np.int64)
        self.vanished_ids_: list[int] = []
        self.match_distances_: dict[int, float] = {}
        if previous is None:
            for rank, c in enumerate(order):
                id_of[c] = rank + 1
        else:
            cols = [self.features_.index(f) for f in previous.features_]
            raw_centers = self._pre.inverse(centers)[:, cols]
            in_prev_space = previous._pre.transform(raw_centers)
            prev_centers = previous._params["centers"]
            cost = np.sqrt(
                ((in_prev_space[:, None, :] - prev_centers[None, :, :]) ** 2).sum(-1)
            )
            rows, matched_prev = linear_sum_assignment(cost)
            prev_ids = previous._id_of
            matched = set()
            for r, p in zip(rows, matched_prev, strict=True):
                id_of[r] = prev_ids[p]
                matched.add(int(prev_ids[p]))
                self.match_distances_[int(prev_ids[p])] = float(cost[r, p])
            next_id = previous.max_id_ever_ + 1
            matched_rows = set(rows.tolist())
            for c in order:
                if c not in matched_rows:
                    id_of[c] = next_id
                    next_id += 1
            self.vanished_ids_ = sorted(
                int(i) for i in prev_ids if int(i) not in matched
            )
            self.match_distances_ = dict(sorted(self.match_distances_.items()))
        self._id_of = id_of
        self.ids_ = sorted(int(i) for i in id_of)
        prev_max = previous.max_id_ever_ if previous is not None else 0
        self.max_id_ever_ = int(max(prev_max, *self.ids_))

    # ------------------------------------------------------------ predict

    def _check_fitted(self) -> None:
        if not hasattr(self, "features_"):
            raise ValueError("SegmentModel is not fitted; call fit() first")

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Return the rows of ``X`` in the model's standardized space
        (columns in ``features_`` order; unitless, population SD = 1)."""
        self._check_fitted()
        return self._pre.transform(_numeric_matrix(X, self.features_))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Return the segment id (int64) of every row of ``X``.

        ``X`` needs the fitted feature columns (others are ignored); nulls
        are imputed with the training medians.
        """
        z = self.transform(X)
        with threadpool_limits(limits=self.n_threads):
            internal = _assign(z, self._params, self.method)
        return self._id_of[internal]

    @property
    def centroids_(self) -> pd.DataFrame:
        """Segment centers in raw feature units, one row per segment id.

        These are the model's centers mapped back through the preprocessing:
        for a log1p-transformed feature that is a geometric-type center (close
        to the segment's typical value), not the arithmetic mean; see
        ``profile`` for means.
        """
        self._check_fitted()
        raw = self._pre.inverse(self._params["centers"])
        frame = pd.DataFrame(raw, columns=self.features_)
        frame.index = pd.Index(self._id_of, name="segment_id")
        return frame.sort_index()

    @property
    def log_features_(self) -> list[str]:
        self._check_fitted()
        return [f for f, lg in zip(self.features_, self._pre.log, strict=True) if lg]

    def profile(self, X: pd.DataFrame, labels: object) -> pd.DataFrame:
        """Return one row per segment: ``segment_id``, ``segment_name``,
        ``customers``, ``share`` (of all rows, 0-1), and per feature
        ``<feature>_mean`` (raw units, nulls left out) and ``<feature>_index``
        (segment mean / overall mean; 1 = average; null when the overall mean
        is not positive)."""
        self._check_fitted()
        raw = _numeric_matrix(X, self.features_)
        lab = _check_labels(labels, raw.shape[0], "labels")
        values = pd.DataFrame(raw, columns=self.features_)
        overall = values.mean()
        grouped = values.groupby(lab, sort=True)
        means = grouped.mean()
        sizes = grouped.size()
        out = pd.DataFrame(
            {
                "segment_id": means.index.to_numpy(),
                "segment_name": [self.segment_names_.get(s) for s in means.index],
                "customers": sizes.to_numpy(dtype=np.int64),
                "share": sizes.to_numpy(dtype=np.float64) / raw.shape[0],
            }
        )
        for f in self.features_:
            out[f"{f}_mean"] = means[f].to_numpy()
            base = overall[f]
            out[f"{f}_index"] = (
                means[f].to_numpy() / base if base > 0 else np.full(len(means), np.nan)
            )
        return out

    # ------------------------------------------------------------ quality

    def bootstrap_stability(
        self,
        X: pd.DataFrame,
        n_boot: int = 5,
        sample_size: int | None = None,
        seed: int | None = None,
    ) -> float:
        """Return the mean adjusted Rand index (1 = perfectly stable) between
        this model's labels and those of models refitted (same k, method and
        settings) on ``n_boot`` bootstrap resamples of ``X``, all compared on
        one seeded evaluation sample of ``sample_size`` rows of ``X``."""
        self._check_fitted()
        sample_size = self.sample_size if sample_size is None else int(sample_size)
        seed = self.seed if seed is None else int(seed)
        if n_boot < 1:
            raise ValueError(f"n_boot must be >= 1, got {n_boot}")
        raw = _numeric_matrix(X, self.features_)
        n = raw.shape[0]
        evaluation = self._sample_index(n, sample_size, seed)
        with threadpool_limits(limits=self.n_threads):
            return self._bootstrap(raw, evaluation, n_boot, seed)

    def _bootstrap(
        self, raw: np.ndarray, evaluation: np.ndarray, n_boot: int, seed: int
    ) -> float:
        n = raw.shape[0]
        reference = _assign(
            self._pre.transform(raw[evaluation]), self._params, self.method
        )
        scores = []
        for b in range(n_boot):
            rng = np.random.default_rng([seed, b])
            rows = rng.integers(0, n, size=n)
            pre = _Preprocessor.fit(raw[rows], self.features_)
            refit = SegmentModel(
                k_range=(self.k_, self.k_),
                method=self.method,
                sample_size=self.sample_size,
                seed=self.seed,
                n_init=self.n_init,
                n_threads=self.n_threads,
            )
            params, _, _, _ = refit._select_k(pre.transform(raw[rows]), score=False)
            labels = _assign(pre.transform(raw[evaluation]), params, self.method)
            scores.append(adjusted_rand(reference, labels))
        return float(np.mean(scores))

    # ------------------------------------------------------ serialization

    def to_bytes(self) -> bytes:
        """Return the fitted model as UTF-8 JSON (no pickle)."""
        self._check_fitted()
        params = {k: v.tolist() for k, v in self._params.items()}
        doc: dict[str, Any] = {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "settings": {
                "k_range": list(self.k_range),
                "method": self.method,
                "sample_size": self.sample_size,
                "seed": self.seed,
                "n_init": self.n_init,
                "value_feature": self.value_feature,
                "roles": self.roles,
                "n_threads": self.n_threads,
            },
            "features": self.features_,
            "value_feature_used": self.value_feature_,
            "roles_used": self.roles_,
            "preprocessing": self._pre.to_dict(),
            "estimator": params,
            "ids": self._id_of.tolist(),
            "max_id_ever": self.max_id_ever_,
            "vanished_ids": self.vanished_ids_,
            "match_distances": [[k, v] for k, v in self.match_distances_.items()],
            "segment_names": [[k, v] for k, v in self.segment_names_.items()],
            "k_scores": [[k, v] for k, v in self.k_scores_.items()],
            "silhouette": self.silhouette_,
        }
        return json.dumps(doc, sort_keys=True, allow_nan=True).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> SegmentModel:
        """Rebuild a model written by ``to_bytes``; predictions are identical."""
        doc = json.loads(data.decode("utf-8"))
        if doc.get("format") != _FORMAT or doc.get("version") != _FORMAT_VERSION:
            raise ValueError(
                f"not a SegmentModel v{_FORMAT_VERSION} document (format="
                f"{doc.get('format')!r}, version={doc.get('version')!r})"
            )
        s = doc["settings"]
        model = cls(
            k_range=tuple(s["k_range"]),
            method=s["method"],
            sample_size=s["sample_size"],
            seed=s["seed"],
            n_init=s["n_init"],
            value_feature=s["value_feature"],
            roles=s["roles"],
            n_threads=s["n_threads"],
        )
        model.features_ = list(doc["features"])
        model.value_feature_ = doc["value_feature_used"]
        model.roles_ = dict(doc["roles_used"])
        model._pre = _Preprocessor.from_dict(doc["preprocessing"])
        model._params = {
            k: np.asarray(v, dtype=np.float64) for k, v in doc["estimator"].items()
        }
        model.k_ = int(model._params["centers"].shape[0])
        model._id_of = np.asarray(doc["ids"], dtype=np.int64)
        model.ids_ = sorted(int(i) for i in model._id_of)
        model.max_id_ever_ = int(doc["max_id_ever"])
        model.vanished_ids_ = [int(i) for i in doc["vanished_ids"]]
        model.match_distances_ = {int(k): float(v) for k, v in doc["match_distances"]}
        model.segment_names_ = {int(k): str(v) for k, v in doc["segment_names"]}
        model.k_scores_ = {int(k): float(v) for k, v in doc["k_scores"]}
        model.silhouette_ = float(doc["silhouette"])
        return model


# --------------------------------------------------------------------------
# micro segments


def _part(values: object, n: int, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must be 1-D with {n} entries, got shape {arr.shape}")
    missing = pd.isna(arr)
    out = np.where(missing, "unknown", arr).astype(str)
    if any("-" in v for v in np.unique(out)):
        raise ValueError(
            f"{name} values must not contain '-' (it separates the parts of a "
            "micro-segment label); rename them, e.g. 'very_high'"
        )
    return out


def micro_segments(
    segment_ids: object,
    value_tier: object,
    risk_band: object,
    min_size: int,
) -> np.ndarray:
    """Return a micro-segment label per customer (object array of str).

    The label is ``"<segment>-<value tier>-<risk band>"`` (e.g. ``"3-high-low"``;
    a missing tier or band reads ``unknown``). Cells with fewer than
    ``min_size`` customers are merged into ``"<segment>-other"``; if that is
    still smaller than ``min_size``, the segment's smallest cells (ties by
    label) are added to it until it is large enough. A segment left with no
    cell of its own is labelled ``"<segment>"``. Every label thus has at least
    ``min_size`` customers, except a whole segment smaller than ``min_size``.
    """
    if int(min_size) < 1:
        raise ValueError(f"min_size must be >= 1, got {min_size}")
    min_size = int(min_size)
    seg = np.asarray(segment_ids)
    if seg.ndim != 1:
        raise ValueError(f"segment_ids must be 1-D, got shape {seg.shape}")
    n = seg.shape[0]
    if pd.isna(seg).any():
        raise ValueError("segment_ids has missing values; assign every customer")
    if np.issubdtype(seg.dtype, np.number):
        if not np.all(np.mod(seg, 1) == 0):
            raise ValueError("segment_ids must be whole numbers (segment ids)")
        seg_text = seg.astype(np.int64).astype(str)
    else:
        seg_text = seg.astype(str)
    tier = _part(value_tier, n, "value_tier")
    band = _part(risk_band, n, "risk_band")
    cell = np.char.add(
        np.char.add(seg_text, "-"), np.char.add(np.char.add(tier, "-"), band)
    )
    labels = cell.astype(object)
    for s in np.unique(seg_text).tolist():
        in_seg = seg_text == s
        cells, counts = np.unique(cell[in_seg], return_counts=True)
        is_small = counts < min_size
        merged_cells = cells[is_small].tolist()
        # Smallest first (ties by label): the cells given up if "other" is
        # still too small.
        kept = sorted(
            zip(counts[~is_small].tolist(), cells[~is_small].tolist(), strict=True)
        )
        other_size = int(counts[is_small].sum())
        while 0 < other_size < min_size and kept:
            size, lbl = kept.pop(0)
            merged_cells.append(lbl)
            other_size += size
        merged = in_seg & np.isin(cell, merged_cells)
        labels[merged] = f"{s}-other" if kept else s
    return labels


# ------------------------------------------------------------ training runs

#: Behavioral features the segments are built on by default (var
#: ``segment_features``): value, frequency, recency, basket, premium taste,
#: engagement and tenure, all present even in an orders-only project.
DEFAULT_SEGMENT_FEATURES = (
    "monetary_net",
    "orders_last_365d",
    "recency_days",
    "avg_order_value",
    "premium_spend_share",
    "distinct_categories",
    "sessions_last_90d",
    "email_open_rate_90d",
    "spend_trend_90d",
    "tenure_days",
)


def segmentation_run(
    customers: pd.DataFrame,
    *,
    features: list[str],
    previous_artifact: bytes | None,
    as_of_date: Any,
    run_id: str,
    trained_at: Any,
    k_range: tuple[int, int] = (3, 8),
    training_sample_size: int = 50_000,
    min_silhouette: float = 0.1,
    min_stability: float = 0.6,
    seed: int = 0,
    n_threads: int = 1,
) -> dict[str, Any]:
    """Fit (and gate) the segment model on active customers; returns a registry row.

    ``customers`` holds customer_id and the feature columns. Features absent
    from it or without any variation are left out (an orders-only project has
    no sessions), and recorded in the metrics. The model is fitted on a seeded
    sample of at most ``training_sample_size`` customers (KMeans cost grows
    with rows x k x restarts) and keeps the previous approved model's ids.
    """
    from . import registry

    used = [f for f in features if f in customers.columns]
    skipped = {f: "not in the feature table" for f in features if f not in used}
    for name in list(used):
        values = pd.to_numeric(customers[name], errors="coerce")
        if values.notna().sum() == 0 or values.nunique(dropna=True) < 2:
            skipped[name] = "no variation"
            used.remove(name)
    model = SegmentModel(k_range=k_range, seed=seed, n_init=4, n_threads=n_threads)
    ordered = customers.sort_values("customer_id")
    sample = ordered
    if len(ordered) > training_sample_size:
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(ordered), training_sample_size, replace=False))
        sample = ordered.iloc[pick]
    parameters = {
        "features": used,
        "k_range": list(k_range),
        "training_sample_size": training_sample_size,
        "min_silhouette": min_silhouette,
        "min_stability": min_stability,
        "seed": seed,
    }
    row = {
        "kind": "segments",
        "as_of_date": as_of_date,
        "training_cutoff": as_of_date,
        "parameters": parameters,
        "features": used,
        "fingerprint": registry.data_fingerprint(sample[["customer_id", *used]]),
        "run_id": run_id,
        "trained_at": trained_at,
    }
    problems = []
    if customers.empty:
        problems.append(
            "no customers: the feature table is empty, there is nobody to segment"
        )
    elif len(used) < 2:
        flat = [f for f, why in skipped.items() if why == "no variation"]
        detail = (
            f": {', '.join(flat)} do not vary among the {len(customers)} customers"
            if flat
            else ""
        )
        problems.append(f"only {len(used)} usable behavioral features (need 2){detail}")
    if not customers.empty and len(sample) < model.min_rows():
        problems.append(
            f"{len(sample)} active customers (need {model.min_rows()} for up to "
            f"{k_range[1]} segments)"
        )
    if problems:
        return registry.registry_row(
            **row,
            status=registry.INSUFFICIENT_DATA,
            reason="; ".join(problems),
            metrics={"skipped_features": skipped, "customers": len(sample)},
            artifact=None,
        )
    previous = SegmentModel.from_bytes(previous_artifact) if previous_artifact else None
    if previous is not None and sorted(previous.features_) != sorted(used):
        previous = None
    model.fit(sample[used], previous=previous)
    stability = model.bootstrap_stability(
        sample[used], n_boot=3, sample_size=min(len(sample), 10_000), seed=seed
    )
    labels = model.predict(sample[used])
    sizes = pd.Series(labels).value_counts().sort_index()
    metrics = {
        "k": model.k_,
        "silhouette": model.silhouette_,
        "bootstrap_stability": stability,
        "k_scores": {str(k): v for k, v in model.k_scores_.items()},
        "segment_names": {str(k): v for k, v in model.segment_names_.items()},
        "segment_shares": {str(k): v / len(labels) for k, v in sizes.items()},
        "matched_previous": previous is not None,
        "vanished_ids": list(getattr(model, "vanished_ids_", [])),
        "skipped_features": skipped,
        "customers": len(sample),
    }
    gate = registry.evaluate_gates(
        metrics, {"silhouette": min_silhouette, "bootstrap_stability": min_stability}
    )
    return registry.registry_row(
        **row,
        status=gate.status,
        reason=gate.reason,
        metrics=metrics,
        artifact=model.to_bytes(),
    )


def segment_min_size(customers: int, min_share: float, min_count: int) -> int:
    """Return the fewest customers a published segment may hold:
    max(min_share x customers, min_count), rounded up to a whole customer
    (the rule of the min_group_size test on fct_customer_segments)."""
    share = float(min_share)
    count = int(min_count)
    if not 0 <= share <= 1 or count < 0:
        raise ValueError(
            f"min_share must be a share from 0 to 1 and min_count 0 or more "
            f"(got {min_share}, {min_count}); see vars segment_min_share and "
            "segment_min_count"
        )
    return max(int(np.ceil(share * int(customers) - 1e-9)), count)


def merge_small_segments(
    z: np.ndarray, ids: np.ndarray, minimum: int
) -> tuple[np.ndarray, dict[int, int]]:
    """Merge every segment smaller than ``minimum`` rows into its nearest one.

    ``z`` holds the rows in the model's standardized space, ``ids`` their
    segment ids. The smallest undersized segment (ties: the lower id) goes
    first, into the segment whose mean in ``z`` is closest (Euclidean; ties:
    the lower id), and the means are recomputed before the next merge, until
    every segment reaches ``minimum`` or one segment is left. Returns the new
    ids (int64) and ``{merged id: id it went into}`` in merge order.
    """
    merged = np.asarray(ids, dtype=np.int64).copy()
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] != merged.shape[0]:
        raise ValueError(
            f"z must be 2-D with one row per id ({merged.shape[0]}), got {z.shape}"
        )
    merged_into: dict[int, int] = {}
    while True:
        present, counts = np.unique(merged, return_counts=True)
        if len(present) < 2 or counts.min() >= minimum:
            return merged, merged_into
        small = int(present[np.lexsort((present, counts))[0]])
        means = {int(s): z[merged == s].mean(axis=0) for s in present}
        target = min(
            (s for s in means if s != small),
            key=lambda s: (float(np.linalg.norm(means[s] - means[small])), s),
        )
        merged[merged == small] = target
        merged_into[small] = target


def _min_size_var(customers: int, min_share: float, min_count: int) -> str:
    if float(min_share) * customers > int(min_count):
        return f"var segment_min_share {float(min_share):g} x {customers} customers"
    return "var segment_min_count"


def assign_segments(
    registry_rows: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    min_share: float = 0.0,
    min_count: int = 1,
) -> pd.DataFrame:
    """Segment of every customer with the latest approved segment model.

    No published segment is smaller than max(min_share x customers,
    min_count) (``segment_min_size``): segments below it on these customers
    are merged into their nearest segment (``merge_small_segments``), and
    when fewer than two segments would reach it no segment is published.
    Returns customer_id, segment_id (null when no model is approved or no
    segment is published), segment_name, segment_model_version and
    segment_note (why segment_id is null, or which segment a customer's was
    merged from).
    """
    from . import registry

    out = pd.DataFrame({"customer_id": customers["customer_id"].to_numpy()})

    def unpublished(note: str) -> pd.DataFrame:
        out["segment_id"] = pd.array([None] * len(out), dtype="Int64")
        out["segment_name"] = None
        out["segment_model_version"] = None
        out["segment_note"] = note
        return out

    serving = registry.latest_approved(registry_rows, "segments")
    if serving is None:
        return unpublished(registry.no_model_note(registry_rows, "segments"))
    model = SegmentModel.from_bytes(bytes(serving["artifact"]))
    predicted = model.predict(customers[model.features_])
    n = len(out)
    minimum = segment_min_size(n, min_share, min_count)
    source = _min_size_var(n, min_share, min_count)
    if n < minimum:
        return unpublished(
            f"segments not published: only {n} customers, and a segment needs "
            f"at least {minimum} ({source})"
        )
    ids, merged_into = predicted, {}
    if n:
        ids, merged_into = merge_small_segments(
            model.transform(customers[model.features_]), predicted, minimum
        )
    if n and len(np.unique(ids)) < 2:
        return unpublished(
            f"segments not published: on {n} customers only one segment reaches "
            f"the minimum of {minimum} customers ({source}) once the smaller "
            f"segments are merged into it; segmenting needs two (at least "
            f"{2 * minimum} customers)"
        )
    out["segment_id"] = ids
    out["segment_name"] = [model.segment_names_[int(i)] for i in ids]
    out["segment_model_version"] = serving["model_version"]
    out["segment_note"] = None
    if merged_into:
        sizes = pd.Series(predicted).value_counts()
        for small, target in merged_into.items():
            final = target
            while final in merged_into:
                final = merged_into[final]
            out.loc[predicted == small, "segment_note"] = (
                f"segment {small} ({int(sizes[small])} customers) is below the "
                f"minimum of {minimum} ({source}): merged into segment {final}, "
                "its nearest"
            )
    return out
