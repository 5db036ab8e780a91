"""Benchmark of uplift_runs: time per campaign and Qini against the oracle.

Not a test: it prints figures. One randomized campaign (50 % treated) of
``--rows`` participants with 78 numeric features (as many as feat_customers,
correlated blocks, some missing values) and a planted heterogeneous effect:
participants with a high first latent factor convert 15 points more when
contacted, those with a high second one (among the rest) 10 points less; the
baseline conversion (about 25 %) depends on other features and on noise the
features do not explain. ``uplift_runs`` is timed with nthread=1 (the
registry row includes the T-/X-learner selection and the refit for serving).

Printed per size: seconds, the chosen learner, its Qini coefficient as
reported in the registry metrics, the oracle's Qini (ranking by the planted
true effect) on all participants, and their ratio. The ratio is meaningful
only when the reported Qini is computed on all participants (out-of-fold).

    .venv/bin/python benchmarks/bench_uplift.py --rows 1200 17000
    .venv/bin/python benchmarks/bench_uplift.py --rows 1200 --campaigns 5
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

import numpy as np
import pandas as pd

from predictive_segments.features import FEATURE_LABELS
from predictive_segments.metrics import qini_coefficient
from predictive_segments.uplift import uplift_runs


def simulate_campaign(
    n: int, seed: int, n_features: int = 78
) -> tuple[pd.DataFrame, np.ndarray]:
    """ml_uplift_examples-like rows of one campaign and the true effect per row."""
    rng = np.random.default_rng(seed)
    names = [k for k in FEATURE_LABELS if k != "acquisition_channel"][:n_features]
    latent = rng.normal(size=(n, 4))
    columns = {}
    for j, name in enumerate(names):
        columns[name] = 0.8 * latent[:, j % 4] + 0.6 * rng.normal(size=n)
        if j % 7 == 3:
            columns[name][rng.random(n) < 0.2] = np.nan
    persuadable = latent[:, 0] > 0.5
    sleeping_dog = (latent[:, 1] > 0.7) & ~persuadable
    effect = np.where(persuadable, 0.15, np.where(sleeping_dog, -0.10, 0.0))
    noise = rng.normal(scale=0.5, size=n)
    baseline = 1.0 / (1.0 + np.exp(-(-1.2 + 0.8 * latent[:, 2] + noise)))
    treated = (rng.random(n) < 0.5).astype(int)
    converted = rng.random(n) < np.clip(baseline + treated * effect, 0.0, 1.0)
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i:06d}" for i in range(n)],
            "cutoff_date": dt.date(2024, 3, 1),
            **columns,
            "campaign_id": "spring",
            "is_treated": treated.astype(bool),
            "has_converted": converted,
            "window_revenue": converted * rng.gamma(4.0, 15.0, size=n),
        }
    )
    return frame, effect


def run(n: int, seed: int) -> dict[str, object]:
    examples, effect = simulate_campaign(n, seed)
    start = time.perf_counter()
    (row,) = uplift_runs(
        examples,
        as_of_date=dt.date(2024, 4, 1),
        run_id="bench",
        trained_at=dt.datetime(2024, 4, 1),
        min_qini=0.0,
        seed=0,
        nthread=1,
    )
    seconds = time.perf_counter() - start
    metrics = json.loads(row["metrics"])
    # uplift_runs sorts a campaign by customer_id, which is row order here.
    oracle = qini_coefficient(
        examples["has_converted"].to_numpy(int),
        examples["is_treated"].to_numpy(int),
        effect,
    )
    return {
        "rows": n,
        "seconds": round(seconds, 2),
        "status": row["status"],
        "chosen": metrics["chosen"],
        "qini": round(metrics["qini_coefficient"], 4),
        "random_qini": round(metrics["random"]["qini_coefficient"], 4),
        "oracle_qini": round(oracle, 4),
        "qini_over_oracle": round(metrics["qini_coefficient"] / oracle, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1200, 17000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--campaigns",
        type=int,
        default=1,
        help="simulated campaigns per size (seeds --seed, --seed + 1, ...)",
    )
    args = parser.parse_args()
    results = [
        {"data_seed": seed, **run(n, seed)}
        for n in args.rows
        for seed in range(args.seed, args.seed + args.campaigns)
    ]
    print(pd.DataFrame(results).to_string(index=False))


if __name__ == "__main__":
    main()
