"""Uplift models for randomized campaigns: who converts *because* of the contact?

The data come from a randomized campaign: each customer was assigned to the
treated arm (contacted) or the control arm (held out) at random, and the
outcome is either binary (converted within the window: 0/1) or continuous
(revenue within the window, in major currency units). Two meta-learners
(Künzel, Sekhon, Bickel and Yu 2019, "Metalearners for estimating
heterogeneous treatment effects using machine learning", PNAS) estimate the
conditional treatment effect with xgboost:

* ``TLearner``: one outcome model per arm; uplift = mu1(x) - mu0(x).
* ``XLearner``: the T-learner's arm models, then imputed individual effects
  (treated: y - mu0(x); control: mu1(x) - y) regressed on x per arm, blended
  with the propensity: tau(x) = e * tau0(x) + (1 - e) * tau1(x). In a
  randomized campaign the propensity e is the known randomization share (pass
  it) or, when not given, the treated share observed at fit.

``choose_uplift_model`` cross-fits both (K folds, default 4: every customer
gets an out-of-fold uplift from a model trained on the other folds), compares
them by the Qini coefficient of those predictions over all customers (and
against random targeting), and refits the winner on all rows for serving;
``cross_fitted_uplift`` gives one learner's out-of-fold uplift. Because every
customer is scored out of fold, the reported Qini can be compared with any
other ranking of the same customers, e.g. the true effects of simulated data.
``uplift_groups`` turns predictions into the four classic groups. Check the
campaign first with ``check_arms``.
"""

from __future__ import annotations

import base64
import json
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np
import pandas as pd

from .lookalike import _informative_columns, _numeric_matrix, _select_features
from .metrics import auuc, qini_coefficient, qini_normalized
from .ml_libs import StratifiedKFold, xgb

OutcomeType = Literal["auto", "binary", "continuous"]

GROUPS: tuple[str, ...] = ("persuadable", "sure thing", "lost cause", "sleeping dog")
"""Labels returned by ``uplift_groups``."""

_FORMAT = "predictive_segments.uplift/1"
_RESERVED_PARAMS = ("nthread", "n_jobs", "seed", "random_state", "objective")
_DEFAULT_PARAMS: dict[str, Any] = {
    "eta": 0.05,
    "max_depth": 3,
    # Uplift is a small difference between two noisy fits: large leaves keep
    # each arm model smooth so the difference is not dominated by noise.
    "min_child_weight": 20.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "lambda": 5.0,
    "num_boost_round": 200,
}


def check_arms(
    treated: np.ndarray,
    min_per_arm: int = 100,
    outcome: np.ndarray | None = None,
    n_folds: int | None = None,
) -> tuple[bool, str]:
    """Say whether a campaign can train an uplift model.

    ``treated`` is 0/1 (or boolean) per customer: 1 = contacted, 0 = control.
    Returns ``(eligible, message)``: not eligible when there is no control
    group, no treated group, or fewer than ``min_per_arm`` customers in an arm;
    when ``outcome`` is given and binary, also when an arm has no converter or
    only converters. With ``n_folds`` (the cross-fitting of
    ``choose_uplift_model``), also when an arm has fewer than 2 x ``n_folds``
    converters or non-converters (each fold needs two of each; with a
    continuous outcome, fewer than 2 x ``n_folds`` customers). The message
    says why (or, when eligible, the arm sizes). Raises ValueError when
    ``treated`` is not 0/1 or has nulls, or ``n_folds`` is not an integer >= 2.
    """
    t = _as_binary(treated, "treated", "1 = contacted, 0 = control group")
    if min_per_arm < 1:
        raise ValueError(f"min_per_arm={min_per_arm}; pass min_per_arm >= 1")
    if n_folds is not None and not _is_count(n_folds, 2):
        raise ValueError(
            f"n_folds={n_folds!r}; pass an integer >= 2 (each customer is "
            "scored by the model trained on the other folds)"
        )
    n_t = int(t.sum())
    n_c = int(t.size - n_t)
    if n_c == 0:
        return False, (
            f"campaign has no control group ({n_t} treated, 0 control): uplift "
            "cannot be measured; hold out a random control group"
        )
    if n_t == 0:
        return False, f"campaign has no treated customers (0 treated, {n_c} control)"
    if min(n_t, n_c) < min_per_arm:
        return False, (
            f"campaign has {n_t} treated and {n_c} control customers; uplift "
            f"needs at least {min_per_arm} per arm"
        )
    if outcome is not None:
        y = _as_float(outcome, "outcome")
        if y.size != t.size:
            raise ValueError(
                f"outcome has {y.size} values but treated has {t.size}; "
                "pass one value per customer"
            )
        if _is_binary(y):
            for name, arm in (("treated", t == 1), ("control", t == 0)):
                rate = y[arm].mean()
                if rate in (0.0, 1.0):
                    return False, (
                        f"every {name} customer has outcome {int(rate)}: the "
                        "campaign has no contrast to learn from"
                    )
    if n_folds is not None:
        need = 2 * int(n_folds)
        binary = outcome is not None and _is_binary(y)
        for name, arm in (("treated", t == 1), ("control", t == 0)):
            groups = (
                (("converters", y[arm] == 1), ("non-converters", y[arm] == 0))
                if binary
                else (("customers", np.ones(int(arm.sum()), dtype=bool)),)
            )
            for label, members in groups:
                count = int(members.sum())
                if count < need:
                    return False, (
                        f"the {name} arm has {count} {label}; {n_folds}-fold "
                        f"cross-fitting needs at least {need} per arm (2 per "
                        "fold): wait for more participants or pass fewer folds"
                    )
    return True, f"eligible: {n_t} treated and {n_c} control customers"


class _UpliftLearner:
    """Shared fitting, prediction and serialization of the meta-learners."""

    kind: ClassVar[str] = ""

    def __init__(
        self,
        seed: int = 0,
        nthread: int = 2,
        params: dict[str, Any] | None = None,
        outcome_type: OutcomeType = "auto",
    ) -> None:
        if nthread < 1:
            raise ValueError(f"nthread={nthread}; pass nthread >= 1")
        if outcome_type not in ("auto", "binary", "continuous"):
            raise ValueError(
                f"outcome_type={outcome_type!r}; pass 'auto', 'binary' or 'continuous'"
            )
        bad = sorted(set(params or {}) & set(_RESERVED_PARAMS))
        if bad:
            raise ValueError(
                f"params sets {bad}; pass seed and nthread as constructor "
                "arguments (the objective follows the outcome type)"
            )
        self.seed = int(seed)
        self.nthread = int(nthread)
        self.params = dict(params or {})
        self.outcome_type = outcome_type
        self.features_: list[str] | None = None
        self.binary_: bool | None = None
        self.boosters_: dict[str, xgb.Booster] = {}

    def _settings(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "nthread": self.nthread,
            "params": self.params,
            "outcome_type": self.outcome_type,
        }

    # -- fitting helpers -----------------------------------------------------
    def _prepare_fit(
        self, X: pd.DataFrame, treated: np.ndarray, outcome: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not isinstance(X, pd.DataFrame):
            raise ValueError("X must be a pandas DataFrame of customer features")
        t = _as_binary(treated, "treated", "1 = contacted, 0 = control group")
        y = _as_float(outcome, "outcome")
        if not (t.size == y.size == len(X)):
            raise ValueError(
                f"X has {len(X)} rows, treated {t.size} values, outcome {y.size}; "
                "pass one value per customer row, in the same order"
            )
        ok, reason = check_arms(t, min_per_arm=1, outcome=y)
        if not ok:
            raise ValueError(reason)
        binary = _is_binary(y)
        if self.outcome_type == "binary" and not binary:
            raise ValueError(
                "outcome_type='binary' but outcome has values other than 0/1; "
                "pass the conversion flag or use outcome_type='continuous'"
            )
        self.binary_ = (
            binary if self.outcome_type == "auto" else (self.outcome_type == "binary")
        )
        matrix, columns = _numeric_matrix(X)
        keep = _informative_columns(matrix)
        if not keep.any():
            raise ValueError(
                "every feature column is all-null or constant; pass features "
                "that vary between customers"
            )
        self.features_ = [c for c, k in zip(columns, keep, strict=True) if k]
        return np.ascontiguousarray(matrix[:, keep]), t, y

    def _train(
        self, matrix: np.ndarray, label: np.ndarray, objective: str
    ) -> xgb.Booster:
        merged = {**_DEFAULT_PARAMS, **self.params}
        rounds = int(merged.pop("num_boost_round"))
        merged.update(
            objective=objective,
            tree_method="hist",
            nthread=self.nthread,
            seed=self.seed,
        )
        # Trained without feature names, which xgboost would otherwise read
        # back and compare on every round; named afterwards (same model bytes).
        dtrain = xgb.DMatrix(matrix, label=label, nthread=self.nthread)
        booster = xgb.train(merged, dtrain, num_boost_round=rounds)
        booster.feature_names = list(self.features_ or [])
        return booster

    def _outcome_objective(self) -> str:
        return "binary:logistic" if self.binary_ else "reg:squarederror"

    def _fit_arms(self, matrix: np.ndarray, t: np.ndarray, y: np.ndarray) -> None:
        objective = self._outcome_objective()
        self.boosters_ = {
            "mu_treated": self._train(matrix[t == 1], y[t == 1], objective),
            "mu_control": self._train(matrix[t == 0], y[t == 0], objective),
        }

    def _matrix(self, X: pd.DataFrame) -> xgb.DMatrix:
        if self.features_ is None or not self.boosters_:
            raise ValueError(f"{type(self).__name__} is not fitted: call fit first")
        return xgb.DMatrix(
            _select_features(X, self.features_),
            feature_names=self.features_,
            nthread=self.nthread,
        )

    # -- public prediction -----------------------------------------------------
    def predict_arms(self, X: pd.DataFrame) -> pd.DataFrame:
        """Predicted outcome under each arm, indexed like ``X``.

        Columns ``p_treated`` and ``p_control``: probability of converting if
        contacted / not contacted for a binary outcome; expected revenue (in
        the outcome's currency units) for a continuous outcome.
        """
        p_treated, p_control = self._arms(self._matrix(X))
        return pd.DataFrame(
            {"p_treated": p_treated, "p_control": p_control}, index=X.index
        )

    def predict_uplift(self, X: pd.DataFrame) -> np.ndarray:
        """Treatment effect per customer, in the order of ``X``.

        In probability points (-1..1) for a binary outcome, in outcome units
        (e.g. EUR) for a continuous one.
        """
        return self._uplift(self._matrix(X), arms=None)

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """``p_treated``, ``p_control`` and ``uplift`` per row, indexed like ``X``.

        The same values as ``predict_arms`` and ``predict_uplift``, from one
        feature matrix and one prediction per booster (scoring a million
        customers builds the matrix once instead of twice).
        """
        dmat = self._matrix(X)
        arms = self._arms(dmat)
        return pd.DataFrame(
            {
                "p_treated": arms[0],
                "p_control": arms[1],
                "uplift": self._uplift(dmat, arms=arms),
            },
            index=X.index,
        )

    def _arms(self, dmat: xgb.DMatrix) -> tuple[np.ndarray, np.ndarray]:
        return (
            self.boosters_["mu_treated"].predict(dmat).astype(float),
            self.boosters_["mu_control"].predict(dmat).astype(float),
        )

    def _uplift(
        self, dmat: xgb.DMatrix, arms: tuple[np.ndarray, np.ndarray] | None
    ) -> np.ndarray:
        """The effect per row of ``dmat``; ``arms``: ``_arms(dmat)`` if known."""
        raise NotImplementedError

    # -- serialization ---------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Serialize the fitted learner (JSON bytes with the xgboost models)."""
        if self.features_ is None or not self.boosters_:
            raise ValueError(f"{type(self).__name__} is not fitted: call fit first")
        payload = {
            "format": _FORMAT,
            "kind": self.kind,
            "settings": self._settings(),
            "features": self.features_,
            "binary": self.binary_,
            "state": self._state(),
            "boosters_ubj": {
                name: base64.b64encode(bytes(b.save_raw("ubj"))).decode("ascii")
                for name, b in sorted(self.boosters_.items())
            },
        }
        return json.dumps(payload, sort_keys=True).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> _UpliftLearner:
        """Rebuild a learner written by ``to_bytes``; predictions are identical."""
        payload = _read_payload(data)
        if cls.kind and payload["kind"] != cls.kind:
            raise ValueError(
                f"these bytes hold a {payload['kind']} model, not a {cls.kind}; "
                "use uplift_model_from_bytes to load either kind"
            )
        return _from_payload(payload)

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:
        del state


class TLearner(_UpliftLearner):
    """Two-model uplift learner: one xgboost outcome model per arm.

    ``seed`` and ``nthread`` go to xgboost; ``params`` overrides booster
    parameters (and ``num_boost_round``); ``outcome_type`` 'auto' treats a 0/1
    outcome as binary (logistic models, uplift in probability points) and
    anything else as continuous (squared-error models, uplift in outcome
    units such as EUR of revenue).
    """

    kind: ClassVar[str] = "t_learner"

    def fit(
        self, X: pd.DataFrame, treated: np.ndarray, outcome: np.ndarray
    ) -> TLearner:
        """Fit one model per arm; returns self."""
        matrix, t, y = self._prepare_fit(X, treated, outcome)
        self._fit_arms(matrix, t, y)
        return self

    def _uplift(
        self, dmat: xgb.DMatrix, arms: tuple[np.ndarray, np.ndarray] | None
    ) -> np.ndarray:
        """Treatment effect: p_treated - p_control."""
        p_treated, p_control = self._arms(dmat) if arms is None else arms
        return p_treated - p_control


class XLearner(_UpliftLearner):
    """X-learner (Künzel et al. 2019) with xgboost.

    Stage 1 fits the arm models of the T-learner; stage 2 regresses the
    imputed effects (treated: y - mu0(x), control: mu1(x) - y) on the
    features within each arm; the two effect models are blended with the
    propensity ``e``: tau(x) = e * tau0(x) + (1 - e) * tau1(x), which gives
    more weight to the effect model whose imputation used the better-fed arm
    model. ``propensity`` is the known randomization share (share of
    customers assigned to the treated arm); None estimates it as the treated
    share at fit, which is the right estimate for a completely randomized
    campaign. Other parameters as ``TLearner``.
    """

    kind: ClassVar[str] = "x_learner"

    def __init__(
        self,
        seed: int = 0,
        nthread: int = 2,
        params: dict[str, Any] | None = None,
        outcome_type: OutcomeType = "auto",
        propensity: float | None = None,
    ) -> None:
        super().__init__(seed, nthread, params, outcome_type)
        if propensity is not None and not 0.0 < propensity < 1.0:
            raise ValueError(
                f"propensity={propensity}; pass the treated share of the "
                "randomization, strictly between 0 and 1 (or None to estimate it)"
            )
        self.propensity = propensity
        self.propensity_: float | None = None

    def _settings(self) -> dict[str, Any]:
        return {**super()._settings(), "propensity": self.propensity}

    def _state(self) -> dict[str, Any]:
        return {"propensity_": self.propensity_}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.propensity_ = float(state["propensity_"])

    def fit(
        self, X: pd.DataFrame, treated: np.ndarray, outcome: np.ndarray
    ) -> XLearner:
        """Fit the arm models and the two effect models; returns self."""
        matrix, t, y = self._prepare_fit(X, treated, outcome)
        self._fit_arms(matrix, t, y)
        self.propensity_ = (
            float(self.propensity) if self.propensity is not None else float(t.mean())
        )
        names = self.features_
        treated_rows, control_rows = matrix[t == 1], matrix[t == 0]
        # Each imputation uses the *other* arm's model, which never saw these
        # rows, so the imputed effects are not in-sample fits.
        mu0_on_treated = self.boosters_["mu_control"].predict(
            xgb.DMatrix(treated_rows, feature_names=names, nthread=self.nthread)
        )
        mu1_on_control = self.boosters_["mu_treated"].predict(
            xgb.DMatrix(control_rows, feature_names=names, nthread=self.nthread)
        )
        effect_treated = y[t == 1] - mu0_on_treated
        effect_control = mu1_on_control - y[t == 0]
        self.boosters_["tau_treated"] = self._train(
            treated_rows, effect_treated, "reg:squarederror"
        )
        self.boosters_["tau_control"] = self._train(
            control_rows, effect_control, "reg:squarederror"
        )
        return self

    def _uplift(
        self, dmat: xgb.DMatrix, arms: tuple[np.ndarray, np.ndarray] | None
    ) -> np.ndarray:
        """Blended treatment effect, clipped to -1..1 for a binary outcome."""
        del arms  # the effect models predict the effect itself
        tau1 = self.boosters_["tau_treated"].predict(dmat).astype(float)
        tau0 = self.boosters_["tau_control"].predict(dmat).astype(float)
        e = float(self.propensity_)
        tau = e * tau0 + (1.0 - e) * tau1
        return np.clip(tau, -1.0, 1.0) if self.binary_ else tau


_LEARNERS: dict[str, type[_UpliftLearner]] = {
    TLearner.kind: TLearner,
    XLearner.kind: XLearner,
}


def uplift_model_from_bytes(data: bytes) -> TLearner | XLearner:
    """Load a TLearner or XLearner written by ``to_bytes`` (whichever it is)."""
    return _from_payload(_read_payload(data))


class UpliftChoice(NamedTuple):
    """What ``choose_uplift_model`` returns (unpacks as a 3-tuple)."""

    model: TLearner | XLearner
    """The chosen learner, refitted on all rows: the one to serve."""
    report: dict[str, Any]
    """How the learners compared; see ``choose_uplift_model``."""
    out_of_fold_uplift: np.ndarray
    """The chosen learner's cross-fitted uplift per row, in row order."""


def choose_uplift_model(
    X: pd.DataFrame,
    treated: np.ndarray,
    outcome: np.ndarray,
    seed: int = 0,
    nthread: int = 2,
    n_folds: int = 4,
    *,
    conversion: np.ndarray | None = None,
    params: dict[str, Any] | None = None,
    propensity: float | None = None,
    random_repeats: int = 5,
    min_per_arm: int = 100,
    max_training_rows: int | None = None,
) -> UpliftChoice:
    """Pick the better of T- and X-learner by cross-fitting, refit it on all rows.

    The rows are split (seeded by ``seed``) into ``n_folds`` folds stratified
    by arm and conversion. For each learner, every row gets an out-of-fold
    uplift: the prediction of that learner trained on the other folds, never
    on the row itself. The Qini coefficient and the AUUC (``metrics``) of
    each learner are computed on the out-of-fold predictions of **all** rows,
    so they are comparable with any other ranking of the same customers (the
    true effects in a simulation, another model); random targeting is scored
    the same way with seeded uniform random scores, averaged over
    ``random_repeats`` seeds. The learner with the higher out-of-fold Qini
    wins (a tie goes to the simpler T-learner) and is refitted on all rows
    for serving.

    ``max_training_rows`` caps the rows every model trains on: each fold's
    models train on a uniform sample (seeded by ``seed`` and the fold) of at
    most that many of the other folds' rows, and the winner is refitted on
    such a sample of all rows; every row is still scored out of fold, so the
    Qini stays over all rows. None (default) trains on every row. Training
    cost then stays flat once a campaign outgrows the cap.

    Qini is always computed on the **binary conversion outcome** (converted
    within the window, 0/1): with a 0/1 ``outcome`` that is the outcome
    itself; with a continuous outcome (revenue) pass ``conversion`` (0/1 per
    customer), else ValueError "Qini needs a binary outcome". AUUC is
    computed on ``outcome`` (in its units per customer).

    Returns an ``UpliftChoice`` ``(model, report, out_of_fold_uplift)``:
    the refitted winner; the report; the winner's out-of-fold uplift per row
    (numpy array in the order of ``X``, units as ``predict_uplift``).
    ``report`` holds ``chosen`` ('t_learner' or 'x_learner'),
    ``selection_rule``, ``evaluation`` (how the scores were computed),
    ``qini_outcome``, ``auuc_outcome``, ``models`` ({name:
    {'qini_coefficient', 'qini_normalized', 'auuc'}}, out-of-fold over all
    rows), ``random``
    ({'qini_coefficient', 'auuc', 'repeats'}), ``n_folds``, ``n_rows`` and
    ``arms`` (the ``check_arms`` message).

    Raises ValueError when the campaign fails ``check_arms`` with
    ``min_per_arm`` and ``n_folds``: fewer than ``min_per_arm`` customers in
    an arm, or fewer than 2 x ``n_folds`` converters or non-converters in an
    arm (each fold needs at least two of each; the folds are not reduced
    silently, pass a smaller ``n_folds`` deliberately).
    """
    if random_repeats < 1:
        raise ValueError(f"random_repeats={random_repeats}; pass at least 1")
    _check_max_rows(max_training_rows)
    t, y, converted, qini_outcome = _selection_inputs(X, treated, outcome, conversion)
    ok, message = check_arms(
        t, min_per_arm=min_per_arm, outcome=converted, n_folds=n_folds
    )
    if not ok:
        raise ValueError(message)

    folds = _fold_ids(t, converted, n_folds, seed)
    kinds = (TLearner.kind, XLearner.kind)
    settings = {
        "seed": seed,
        "nthread": nthread,
        "params": params,
        "propensity": propensity,
    }
    out_of_fold = _out_of_fold(X, t, y, folds, kinds, settings, max_training_rows)
    scores = {
        kind: {
            "qini_coefficient": qini_coefficient(converted, t, out_of_fold[kind]),
            "qini_normalized": qini_normalized(converted, t, out_of_fold[kind]),
            "auuc": auuc(y, t, out_of_fold[kind]),
        }
        for kind in kinds
    }
    random_qini, random_auuc = [], []
    for k in range(random_repeats):
        noise = np.random.default_rng([seed, 2, k]).random(t.size)
        random_qini.append(qini_coefficient(converted, t, noise))
        random_auuc.append(auuc(y, t, noise))

    t_qini = scores[TLearner.kind]["qini_coefficient"]
    x_qini = scores[XLearner.kind]["qini_coefficient"]
    chosen = XLearner.kind if x_qini > t_qini else TLearner.kind
    refit_rows = _capped_rows(np.arange(t.size), max_training_rows, seed, n_folds)
    if refit_rows.size < t.size:
        model = _make_learner(chosen, settings).fit(
            X.iloc[refit_rows], t[refit_rows], y[refit_rows]
        )
    else:
        model = _make_learner(chosen, settings).fit(X, t, y)
    report = {
        "chosen": chosen,
        "selection_rule": (
            "higher out-of-fold Qini coefficient over all participants; a tie "
            "goes to the T-learner; the winner is refitted on all participants "
            "(at most max_training_rows, a seeded sample) for serving"
        ),
        "evaluation": (
            f"out-of-fold over all {t.size} participants: {n_folds}-fold "
            f"cross-fitting stratified by arm and conversion (seed {seed}); each "
            "participant's uplift comes from the learner trained on the other "
            "folds (at most max_training_rows of them, a seeded sample), so "
            "qini_coefficient and auuc compare with any other ranking of the "
            "same participants"
        ),
        "qini_outcome": qini_outcome,
        "auuc_outcome": "outcome ("
        + ("binary conversion" if _is_binary(y) else "continuous, e.g. revenue")
        + ")",
        "models": scores,
        "random": {
            "qini_coefficient": float(np.mean(random_qini)),
            "auuc": float(np.mean(random_auuc)),
            "repeats": int(random_repeats),
        },
        "n_folds": int(n_folds),
        "n_rows": int(t.size),
        "max_training_rows": max_training_rows,
        "refit_rows": int(refit_rows.size),
        "arms": message,
    }
    return UpliftChoice(model, report, out_of_fold[chosen])


def cross_fitted_uplift(
    X: pd.DataFrame,
    treated: np.ndarray,
    outcome: np.ndarray,
    kind: str = TLearner.kind,
    seed: int = 0,
    nthread: int = 2,
    n_folds: int = 4,
    *,
    conversion: np.ndarray | None = None,
    params: dict[str, Any] | None = None,
    propensity: float | None = None,
    max_training_rows: int | None = None,
) -> np.ndarray:
    """Out-of-fold uplift of one learner kind for every row.

    The same folds as ``choose_uplift_model`` with the same ``seed`` and
    ``n_folds`` (stratified by arm and conversion) and the same
    ``max_training_rows``, so for the chosen kind the result equals its
    ``out_of_fold_uplift``. ``kind`` is 't_learner' or
    'x_learner'; ``conversion`` as in ``choose_uplift_model`` (needed when
    ``outcome`` is not 0/1, for the stratification). Returns a numpy array
    in the order of ``X``, in the units of ``predict_uplift``. Raises
    ValueError when an arm has fewer than 2 x ``n_folds`` converters or
    non-converters.
    """
    if kind not in _LEARNERS:
        raise ValueError(f"kind={kind!r}; pass one of {sorted(_LEARNERS)}")
    _check_max_rows(max_training_rows)
    t, y, converted, _ = _selection_inputs(X, treated, outcome, conversion)
    ok, message = check_arms(t, min_per_arm=1, outcome=converted, n_folds=n_folds)
    if not ok:
        raise ValueError(message)
    folds = _fold_ids(t, converted, n_folds, seed)
    settings = {
        "seed": seed,
        "nthread": nthread,
        "params": params,
        "propensity": propensity,
    }
    return _out_of_fold(X, t, y, folds, (kind,), settings, max_training_rows)[kind]


def _selection_inputs(
    X: pd.DataFrame,
    treated: np.ndarray,
    outcome: np.ndarray,
    conversion: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Validated treated, outcome, binary conversion and the Qini outcome text."""
    if not isinstance(X, pd.DataFrame):
        raise ValueError("X must be a pandas DataFrame of customer features")
    t = _as_binary(treated, "treated", "1 = contacted, 0 = control group")
    y = _as_float(outcome, "outcome")
    if _is_binary(y):
        converted = y
        qini_outcome = "outcome (binary conversion within the window, 0/1)"
    elif conversion is None:
        raise ValueError(
            "Qini needs a binary outcome: outcome has values other than 0/1 "
            "(e.g. revenue); pass conversion=<0/1 converted flag per customer> "
            "to evaluate a revenue model on conversion"
        )
    else:
        converted = _as_binary(conversion, "conversion", "1 = converted")
        qini_outcome = "conversion (binary, passed separately from the outcome)"
    if not (t.size == y.size == converted.size == len(X)):
        raise ValueError(
            f"X has {len(X)} rows, treated {t.size}, outcome {y.size}, "
            f"conversion {converted.size}; pass one value per customer row"
        )
    return t, y, converted, qini_outcome


def _fold_ids(
    t: np.ndarray, converted: np.ndarray, n_folds: int, seed: int
) -> np.ndarray:
    """Fold number (0 .. n_folds - 1) per row, stratified by arm and conversion."""
    strata = (2 * t + converted).astype(np.int64)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    folds = np.empty(t.size, dtype=np.int64)
    for k, (_, rows) in enumerate(splitter.split(np.zeros((t.size, 1)), strata)):
        folds[rows] = k
    return folds


def _make_learner(kind: str, settings: dict[str, Any]) -> TLearner | XLearner:
    common = {k: settings[k] for k in ("seed", "nthread", "params")}
    if kind == XLearner.kind:
        return XLearner(**common, propensity=settings["propensity"])
    return TLearner(**common)


def _capped_rows(
    rows: np.ndarray, max_rows: int | None, seed: int, draw: int
) -> np.ndarray:
    """At most ``max_rows`` of ``rows`` (sorted positions): a uniform sample
    seeded by ``seed`` and ``draw`` (one draw per fold, one for the refit)."""
    if max_rows is None or rows.size <= max_rows:
        return rows
    rng = np.random.default_rng([seed, 5, draw])
    return np.sort(rng.choice(rows, size=max_rows, replace=False))


def _is_count(value: object, minimum: int) -> bool:
    """Whether ``value`` is an integer (not a bool) of at least ``minimum``."""
    return (
        not isinstance(value, bool)
        and isinstance(value, int | np.integer)
        and value >= minimum
    )


def _check_max_rows(max_training_rows: int | None) -> None:
    if max_training_rows is not None and not _is_count(max_training_rows, 2):
        raise ValueError(
            f"max_training_rows={max_training_rows!r}; pass a row count >= 2 or "
            "None (every row)"
        )


def _out_of_fold(
    X: pd.DataFrame,
    t: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    kinds: tuple[str, ...],
    settings: dict[str, Any],
    max_training_rows: int | None = None,
) -> dict[str, np.ndarray]:
    """Uplift of every row from each learner kind trained on the other folds
    (on at most ``max_training_rows`` of them, a seeded sample per fold)."""
    predictions = {kind: np.empty(t.size) for kind in kinds}
    for k in range(int(folds.max()) + 1):
        rows = np.flatnonzero(folds == k)
        others = _capped_rows(
            np.flatnonzero(folds != k), max_training_rows, settings["seed"], k
        )
        X_fit, X_rows = X.iloc[others], X.iloc[rows]
        if XLearner.kind in kinds:
            x = _make_learner(XLearner.kind, settings)
            x.fit(X_fit, t[others], y[others])
            predictions[XLearner.kind][rows] = x.predict_uplift(X_rows)
            if TLearner.kind in kinds:
                # Stage 1 of the X-learner *is* the T-learner (same rows, seed
                # and parameters give the same boosters), so train it once.
                predictions[TLearner.kind][rows] = _arm_models_of(x).predict_uplift(
                    X_rows
                )
        else:
            learner = _make_learner(TLearner.kind, settings)
            learner.fit(X_fit, t[others], y[others])
            predictions[TLearner.kind][rows] = learner.predict_uplift(X_rows)
    return predictions


def _arm_models_of(x: XLearner) -> TLearner:
    """The T-learner made of a fitted X-learner's two arm models."""
    t_learner = TLearner(
        seed=x.seed, nthread=x.nthread, params=x.params, outcome_type=x.outcome_type
    )
    t_learner.features_ = list(x.features_ or [])
    t_learner.binary_ = x.binary_
    t_learner.boosters_ = {
        name: x.boosters_[name] for name in ("mu_treated", "mu_control")
    }
    return t_learner


def uplift_groups(
    p_treated: np.ndarray,
    p_control: np.ndarray,
    uplift: np.ndarray,
    threshold: float = 0.02,
    baseline_threshold: float | None = None,
) -> np.ndarray:
    """Label each customer with one of the four classic uplift groups.

    * ``persuadable``: uplift > ``threshold`` (converts because of the contact);
    * ``sleeping dog``: uplift < -``threshold`` (the contact puts them off);
    * ``sure thing``: |uplift| <= ``threshold`` and both p_treated and
      p_control >= ``baseline_threshold`` (converts either way);
    * ``lost cause``: |uplift| <= ``threshold`` otherwise (unlikely either way).

    ``threshold`` is in the units of ``uplift``: the default 0.02 means 2
    percentage points of conversion probability; for a revenue model pass a
    threshold in currency units. ``baseline_threshold`` is a conversion
    probability (or revenue, for a revenue model); None uses the mean of
    ``p_control``, i.e. "converts at least as often as the average customer
    does without the campaign". Returns a numpy array of strings (object
    dtype), one per customer.
    """
    pt = _as_float(p_treated, "p_treated")
    pc = _as_float(p_control, "p_control")
    u = _as_float(uplift, "uplift")
    if not (pt.size == pc.size == u.size):
        raise ValueError(
            f"p_treated has {pt.size} values, p_control {pc.size}, uplift "
            f"{u.size}; pass one value per customer"
        )
    for name, arr in (("p_treated", pt), ("p_control", pc), ("uplift", u)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ValueError(
                f"{name} has {int(bad.sum())} missing or infinite values; "
                "pass model predictions for every customer"
            )
    if threshold < 0:
        raise ValueError(f"threshold={threshold}; pass a threshold >= 0")
    base = baseline_threshold
    if base is None:
        # No customer (an empty feature table): nothing to group, no mean.
        base = float(pc.mean()) if pc.size else 0.0
    sure = (pt >= base) & (pc >= base)
    return np.select(
        [u > threshold, u < -threshold, sure],
        ["persuadable", "sleeping dog", "sure thing"],
        default="lost cause",
    ).astype(object)


# -- helpers -----------------------------------------------------------------
def _as_float(values: np.ndarray, name: str) -> np.ndarray:
    if isinstance(values, pd.Series | pd.Index):
        arr = values.to_numpy(dtype=float, na_value=np.nan)
    else:
        try:
            arr = np.asarray(values, dtype=float)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be numeric ({err})") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} has shape {arr.shape}; pass a 1-D vector")
    if arr.size and not np.isfinite(arr).all():
        raise ValueError(
            f"{name} has {int((~np.isfinite(arr)).sum())} missing or infinite "
            "values; pass a value for every customer"
        )
    return arr


def _as_binary(values: np.ndarray, name: str, meaning: str) -> np.ndarray:
    arr = _as_float(values, name)
    other = ~np.isin(arr, (0.0, 1.0))
    if other.any():
        raise ValueError(
            f"{name} has {int(other.sum())} values other than 0/1; pass 0/1 "
            f"or booleans ({meaning})"
        )
    return arr


def _is_binary(y: np.ndarray) -> bool:
    return bool(np.isin(y, (0.0, 1.0)).all())


def _read_payload(data: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(
            "not a serialized uplift model (expected JSON from to_bytes)"
        ) from err
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError(
            f"not a serialized uplift model (format is not {_FORMAT!r}); "
            "pass bytes written by TLearner/XLearner.to_bytes"
        )
    if payload.get("kind") not in _LEARNERS:
        raise ValueError(f"unknown uplift model kind {payload.get('kind')!r}")
    return payload


def _from_payload(payload: dict[str, Any]) -> Any:
    model = _LEARNERS[payload["kind"]](**payload["settings"])
    model.features_ = list(payload["features"])
    model.binary_ = bool(payload["binary"])
    model._load_state(payload["state"])
    boosters = {}
    for name, raw in payload["boosters_ubj"].items():
        booster = xgb.Booster(params={"nthread": model.nthread})
        booster.load_model(bytearray(base64.b64decode(raw)))
        boosters[name] = booster
    model.boosters_ = boosters
    return model


# ------------------------------------------------------------ training runs

_OUTCOME_COLUMNS = ("campaign_id", "is_treated", "has_converted", "window_revenue")


def _numeric_features(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    from .features import feature_columns

    candidates = feature_columns(c for c in frame.columns if c not in _OUTCOME_COLUMNS)
    numeric = [
        c
        for c in candidates
        if pd.api.types.is_numeric_dtype(frame[c])
        or pd.api.types.is_bool_dtype(frame[c])
    ]
    return numeric, [c for c in candidates if c not in numeric]


def _is_informative(values: pd.Series) -> bool:
    """As the learners judge a column: neither all null nor constant (a
    constant with some nulls is informative: being null says something)."""
    present = values.notna()
    if not present.any():
        return False
    known = values[present]
    return not present.all() or bool((known != known.iloc[0]).any())


def uplift_runs(
    examples: pd.DataFrame,
    *,
    as_of_date: Any,
    run_id: str,
    trained_at: Any,
    min_qini: float,
    min_per_arm: int = 100,
    seed: int = 0,
    nthread: int = 1,
    n_folds: int = 4,
    max_training_customers: int | None = None,
    assignment_count: int | None = None,
) -> list[dict[str, Any]]:
    """One registry row per campaign in ``examples`` (kind ``uplift:<campaign>``).

    The outcome is conversion within the window (binary, so the Qini
    coefficient is defined). ``choose_uplift_model`` cross-fits T- and
    X-learner with ``n_folds`` folds and picks one; the metrics'
    ``qini_coefficient`` (incremental responders per customer),
    ``qini_normalized`` (over the perfect ranking's, 1 = perfect) and
    ``auuc`` are the chosen learner's, out of fold
    over all the campaign's participants (comparable with the Qini of any
    other ranking of the same participants). The model is approved when that
    Qini reaches ``min_qini`` and beats random targeting
    (``qini_over_random`` > 0). A campaign that fails ``check_arms`` (fewer
    than ``min_per_arm`` per arm, no contrast, or too few converters or
    non-converters per arm for ``n_folds`` folds) or whose features are all
    null or constant gets an insufficient_data row without a model.
    ``max_training_customers`` caps the participants each model of a
    campaign trains on (``choose_uplift_model``'s ``max_training_rows``: a
    seeded sample; every participant is still scored out of fold).

    With ``assignment_count`` (the rows of the staged campaign assignments),
    a run without any campaign in ``examples`` returns one insufficient_data
    row of kind ``uplift`` saying why (no assignments at all, or none whose
    outcome window has ended); without it, such a run returns no row.
    """
    from . import registry

    if examples.empty and assignment_count is not None:
        return [
            registry.registry_row(
                kind="uplift",
                status=registry.INSUFFICIENT_DATA,
                reason=(
                    "no randomized campaign with a complete outcome window"
                    if assignment_count > 0
                    else "no campaign assignments: campaign_assignments is "
                    "missing or empty in the raw data"
                ),
                as_of_date=as_of_date,
                training_cutoff=None,
                parameters={},
                features=[],
                metrics={},
                fingerprint=registry.data_fingerprint(examples),
                artifact=None,
                run_id=run_id,
                trained_at=trained_at,
            )
        ]
    rows = []
    features, left_out = _numeric_features(examples)
    for campaign_id in sorted(examples["campaign_id"].unique()):
        campaign = examples[examples["campaign_id"] == campaign_id].sort_values(
            "customer_id"
        )
        treated = campaign["is_treated"].to_numpy(dtype=int)
        converted = campaign["has_converted"].to_numpy(dtype=int)
        row = {
            "kind": f"uplift:{campaign_id}",
            "as_of_date": as_of_date,
            "training_cutoff": campaign["cutoff_date"].min(),
            "parameters": {
                "campaign_id": campaign_id,
                "seed": seed,
                "min_qini": min_qini,
                "min_per_arm": min_per_arm,
                "n_folds": n_folds,
                "max_training_customers": max_training_customers,
                "non_numeric_features_left_out": left_out,
            },
            "features": features,
            "fingerprint": registry.data_fingerprint(
                campaign[["customer_id", "is_treated", "has_converted", *features]]
            ),
            "run_id": run_id,
            "trained_at": trained_at,
        }
        ok, message = check_arms(
            treated, min_per_arm=min_per_arm, outcome=converted, n_folds=n_folds
        )
        # The learners refuse a campaign whose features are all null or
        # constant: nothing to rank customers by, so no model (not a crash).
        if ok and not any(_is_informative(campaign[f]) for f in features):
            ok, message = (
                False,
                (
                    f"no feature varies among the campaign's {len(campaign)} customers "
                    f"({len(features)} numeric features, each all null or constant): "
                    "there is nothing to rank customers by"
                ),
            )
        if not ok:
            rows.append(
                registry.registry_row(
                    **row,
                    status=registry.INSUFFICIENT_DATA,
                    reason=message,
                    metrics={"customers": len(campaign)},
                    artifact=None,
                )
            )
            continue
        model, report, _ = choose_uplift_model(
            campaign[features],
            treated,
            converted,
            seed=seed,
            nthread=nthread,
            n_folds=n_folds,
            min_per_arm=min_per_arm,
            max_training_rows=max_training_customers,
        )
        chosen = report["models"][report["chosen"]]
        metrics = {
            **report,
            "qini_coefficient": chosen["qini_coefficient"],
            "qini_normalized": chosen["qini_normalized"],
            "auuc": chosen["auuc"],
            "qini_over_random": chosen["qini_coefficient"]
            - report["random"]["qini_coefficient"],
            "customers": len(campaign),
            "treated_share": float(treated.mean()),
        }
        gate = registry.evaluate_gates(
            metrics, {"qini_coefficient": min_qini, "qini_over_random": 0.0}
        )
        rows.append(
            registry.registry_row(
                **row,
                status=gate.status,
                reason=gate.reason,
                metrics=metrics,
                artifact=model.to_bytes(),
            )
        )
    return rows


def score_uplift(registry_rows: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Uplift of every customer for every campaign with an approved model.

    Returns one row per customer and campaign: customer_id, campaign_id,
    uplift_score (change in the probability of converting within the window
    when contacted), p_treated, p_control, uplift_group, uplift_model_version.
    Empty when no campaign has an approved model.
    """
    from . import registry

    frames = []
    kinds = sorted(
        k for k in registry_rows["model_kind"].unique() if k.startswith("uplift:")
    )
    for kind in kinds:
        serving = registry.latest_approved(registry_rows, kind)
        if serving is None:
            continue
        model = uplift_model_from_bytes(bytes(serving["artifact"]))
        predicted = model.predict(features)
        uplift = predicted["uplift"].to_numpy()
        p_treated = predicted["p_treated"].to_numpy()
        p_control = predicted["p_control"].to_numpy()
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": features["customer_id"].to_numpy(),
                    "campaign_id": kind.split(":", 1)[1],
                    "uplift_score": uplift,
                    "p_treated": p_treated,
                    "p_control": p_control,
                    "uplift_group": uplift_groups(p_treated, p_control, uplift),
                    "uplift_model_version": serving["model_version"],
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            {
                "customer_id": pd.Series(dtype=str),
                "campaign_id": pd.Series(dtype=str),
                "uplift_score": pd.Series(dtype=float),
                "p_treated": pd.Series(dtype=float),
                "p_control": pd.Series(dtype=float),
                "uplift_group": pd.Series(dtype=str),
                "uplift_model_version": pd.Series(dtype=str),
            }
        )
    return pd.concat(frames, ignore_index=True)
