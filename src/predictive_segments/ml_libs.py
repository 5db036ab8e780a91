"""scikit-learn and XGBoost, imported by this module and no other.

dbt-duckdb runs Python models in dbt's worker threads, all in one process, so
two models may import scikit-learn for the first time at the same moment.
Python's per-module import locks then deadlock: one thread initializes
``sklearn`` and needs ``sklearn.base``, the other holds ``sklearn.base`` and
waits for ``sklearn``. Python breaks the cycle by handing one thread a
partially initialized module, and that model fails with "cannot import name
'clone' from partially initialized module 'sklearn.base'". XGBoost imports
scikit-learn when it is installed, so it takes part in the same race.

Every module of the package takes these names from here. The first thread to
import this module loads both libraries while the others wait on this
module's lock, holding no lock that the loading needs; when they go on, the
libraries are complete. tests/python/test_ml_libs.py checks that no other
module imports them directly and that concurrent imports succeed.
"""

from __future__ import annotations

import sklearn  # noqa: F401  (the package before its submodules, in one thread)
import xgboost as xgb
from sklearn.cluster import KMeans
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score, average_precision_score, roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import StratifiedKFold

__all__ = [
    "GaussianMixture",
    "IsotonicRegression",
    "KMeans",
    "LogisticRegression",
    "StratifiedKFold",
    "adjusted_rand_score",
    "average_precision_score",
    "roc_auc_score",
    "xgb",
]
