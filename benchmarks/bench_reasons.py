"""Benchmark of ProbabilityModel.reasons: exact SHAP row by row versus now.

Not a test: it prints figures. A churn-like model (default parameters, up to
300 trees of depth 4) is trained on a simulated customer table with as many
features as feat_customers (78, one of them a string column, some missing
values, correlated blocks, a sparse logistic truth with one interaction).
Three ways of explaining the same rows are then timed:

- ``before``: the code this replaced (exact ``pred_contribs``, per-feature
  columns stacked and a Python join per row), kept here verbatim as the
  baseline;
- ``exact``: ``reasons(contributions="exact")``, the same output (checked
  string for string) with the vectorized selection and phrasing;
- ``approx``: ``reasons()``, the default (Saabas ``approx_contribs``).

The baseline is measured on ``--baseline-rows`` rows and extrapolated
linearly (its cost is per row) to larger ``--rows``. Agreement of the default
with exact SHAP is measured on the baseline rows. xgboost uses one thread.

    .venv/bin/python benchmarks/bench_reasons.py --rows 100000 1000000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from predictive_segments.classifier import (
    ProbabilityModel,
    _as_category_text,
    _as_numeric,
)
from predictive_segments.features import FEATURE_LABELS, feature_label


def simulate(
    n: int, seed: int, n_features: int = 78
) -> tuple[pd.DataFrame, np.ndarray]:
    """A customer-like feature table of ``n`` rows and its 0/1 labels."""
    rng = np.random.default_rng(seed)
    names = [k for k in FEATURE_LABELS if k != "acquisition_channel"]
    names = names[: n_features - 1]
    latent = rng.normal(size=(n, 4))
    columns = {}
    for j, name in enumerate(names):
        base = 0.7 * latent[:, j % 4] + 0.7 * rng.normal(size=n)
        kind = j % 4
        if kind == 0:  # counts
            values = rng.poisson(np.exp(0.5 + 0.5 * base)).astype(float)
        elif kind == 1:  # amounts
            values = np.exp(3.0 + 0.6 * base)
        elif kind == 2:  # shares
            values = 1.0 / (1.0 + np.exp(-base))
        else:  # trends
            values = base
        if j % 7 == 3:
            values[rng.random(n) < 0.2] = np.nan
        columns[name] = values
    channel = rng.choice(
        np.array(["email", "web", "app", "store", "referral"], dtype=object), n
    )
    channel[rng.random(n) < 0.03] = None
    X = pd.DataFrame(columns)
    X.insert(1, "acquisition_channel", channel)
    # The truth: a sparse logistic model, one interaction, a channel effect.
    # Coefficients come from a fixed seed so every data set shares them.
    truth = np.random.default_rng(12345)
    weights = truth.normal(size=len(names)) * (truth.random(len(names)) < 0.3)
    Z = np.nan_to_num(X[names].to_numpy(), nan=0.0)
    Z = (Z - Z.mean(axis=0)) / (Z.std(axis=0) + 1e-9)
    logit = (
        -0.5 + 0.6 * Z @ weights + 0.5 * (channel == "email") + 0.4 * Z[:, 0] * Z[:, 5]
    )
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return X, y


def reasons_before(
    model: ProbabilityModel,
    X: pd.DataFrame,
    labels: dict[str, str],
    top_k: int = 3,
    min_contribution: float = 0.05,
) -> pd.Series:
    """ProbabilityModel.reasons as it was before (exact SHAP, per-row join)."""
    encoded = model._encode(X)
    contribs = model._booster.predict(model._as_dmatrix(encoded), pred_contribs=True)
    contribs = contribs[:, :-1].astype(np.float64)
    owners = np.asarray(model._encoded_owner, dtype=object)
    per_feature = np.column_stack(
        [contribs[:, owners == name].sum(axis=1) for name in model.feature_names_]
    )
    order = np.argsort(-per_feature, axis=1, kind="stable")[:, :top_k]
    rows = np.arange(len(X))[:, None]
    chosen_positive = per_feature[rows, order] > max(min_contribution, 0.0)
    picked = _phrases_before(model, X, labels)[rows, order]
    texts = [
        "; ".join(p for p, keep in zip(row, mask, strict=True) if keep)
        for row, mask in zip(picked, chosen_positive, strict=True)
    ]
    return pd.Series(texts, index=X.index, name="reasons", dtype=object)


def _phrases_before(
    model: ProbabilityModel, X: pd.DataFrame, labels: dict[str, str]
) -> np.ndarray:
    columns = []
    for name in model.feature_names_:
        label = labels.get(name, name)
        if name in model.categories_:
            text = _as_category_text(X[name])
            phrase = (label + ": " + text.fillna("")).to_numpy(dtype=object, copy=True)
            phrase[text.isna().to_numpy()] = f"{label} missing"
        else:
            values = _as_numeric(X[name], name)
            median = model.medians_[name]
            phrase = np.where(
                np.isnan(values),
                f"{label} missing",
                np.where(
                    values > median,
                    f"{label} high",
                    np.where(values < median, f"{label} low", f"{label} typical"),
                ),
            ).astype(object)
        columns.append(phrase)
    return np.column_stack(columns)


def agreement(exact: pd.Series, approx: pd.Series) -> dict[str, float]:
    """How far the approximate reasons agree with the exact ones (shares)."""
    exact_lists = exact.str.split("; ").map(lambda r: [p for p in r if p])
    approx_lists = approx.str.split("; ").map(lambda r: [p for p in r if p])
    with_reason = exact_lists.map(len) > 0
    first_exact = exact_lists.map(lambda r: r[0] if r else "")
    first_approx = approx_lists.map(lambda r: r[0] if r else "")
    in_top = [
        f in a
        for f, a in zip(
            first_exact[with_reason], approx_lists[with_reason], strict=True
        )
    ]
    jaccard = [
        len(set(e) & set(a)) / len(set(e) | set(a)) if (e or a) else 1.0
        for e, a in zip(exact_lists, approx_lists, strict=True)
    ]
    return {
        "main reason equal (rows with an exact reason)": float(
            (first_exact == first_approx)[with_reason].mean()
        ),
        "exact main reason among approx reasons": float(np.mean(in_top)),
        "same set of reasons (Jaccard, mean)": float(np.mean(jaccard)),
        "identical reason strings": float((exact == approx).mean()),
        "rows with a reason, exact": float(with_reason.mean()),
        "rows with a reason, approx": float((approx_lists.map(len) > 0).mean()),
        "reasons per row, exact": float(exact_lists.map(len).mean()),
        "reasons per row, approx": float(approx_lists.map(len).mean()),
    }


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000])
    parser.add_argument("--baseline-rows", type=int, default=100_000)
    parser.add_argument("--train-rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=78)
    parser.add_argument("--nthread", type=int, default=1)
    args = parser.parse_args()

    X_fit, y_fit = simulate(args.train_rows * 8 // 5, seed=1, n_features=args.features)
    cut = args.train_rows
    model, seconds = timed(
        ProbabilityModel(seed=0, nthread=args.nthread).fit,
        X_fit.iloc[:cut],
        y_fit[:cut],
        X_fit.iloc[cut:],
        y_fit[cut:],
    )
    print(
        f"model: {len(model.feature_names_)} features, {model.n_rounds_} trees, "
        f"trained on {cut} rows in {seconds:.1f} s, nthread={args.nthread}"
    )
    labels = {name: feature_label(name) for name in model.feature_names_}

    X_base, _ = simulate(args.baseline_rows, seed=2, n_features=args.features)
    before, t_before = timed(reasons_before, model, X_base, labels)
    exact, t_exact = timed(model.reasons, X_base, labels, contributions="exact")
    approx_base, t_approx_base = timed(model.reasons, X_base, labels)
    if not exact.equals(before):
        raise SystemExit("reasons(contributions='exact') differs from the baseline")
    print(f"\nexact path reproduces the baseline string for string: {len(X_base)} rows")
    print(f"\n{'path':8} {'rows':>10} {'seconds':>9} {'rows/s':>9} {'ms/row':>8}  note")
    for name, t in (
        ("before", t_before),
        ("exact", t_exact),
        ("approx", t_approx_base),
    ):
        print(
            f"{name:8} {len(X_base):>10} {t:>9.2f} {len(X_base) / t:>9.0f} "
            f"{1e3 * t / len(X_base):>8.4f}  measured"
        )
    per_row_before = t_before / len(X_base)
    for n in args.rows:
        if n == len(X_base):
            t_approx = t_approx_base
        else:
            X, _ = simulate(n, seed=3, n_features=args.features)
            reasons, t_approx = timed(model.reasons, X, labels)
            again = model.reasons(X.iloc[: min(n, 20_000)], labels)
            if not again.equals(reasons.iloc[: len(again)]):
                raise SystemExit("reasons differ between two runs")
            del X, reasons
        t_old = per_row_before * n
        print(
            f"{'before':8} {n:>10} {t_old:>9.1f} {n / t_old:>9.0f} "
            f"{1e3 * t_old / n:>8.4f}  "
            + ("measured" if n == len(X_base) else "extrapolated per row")
        )
        print(
            f"{'approx':8} {n:>10} {t_approx:>9.1f} {n / t_approx:>9.0f} "
            f"{1e3 * t_approx / n:>8.4f}  measured; speed-up {t_old / t_approx:.1f}x"
        )

    print(f"\nagreement of the default (approx) with exact SHAP, {len(X_base)} rows:")
    for key, value in agreement(exact, approx_base).items():
        shown = f"{value:.3f}" if key.startswith("reasons per row") else f"{value:.1%}"
        print(f"  {key:48} {shown}")


if __name__ == "__main__":
    main()
