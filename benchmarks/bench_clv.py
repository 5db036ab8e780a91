"""Benchmark of the probabilistic CLV model: fit and prediction time.

Not a test: it prints figures. ``--customers`` customers are simulated from
planted BG/NBD (purchase and dropout) and Gamma-Gamma (spend) parameters,
first purchases one to two years before the cutoff, purchase days rounded to
whole days as in real data; then timed:

- the BG/NBD fit alone,
- ``BgnbdClv().fit`` (BG/NBD + Gamma-Gamma, what train_clv fits),
- ``predict`` over 365 days (expected value, P(alive), quantile draws),

and the fitted parameters are printed next to the planted ones (a fast fit
that lands elsewhere is no success). Issue 5's target: BG/NBD + Gamma-Gamma
on 1,000,000 customers in under 20 seconds on a 2-core machine.

    .venv/bin/python benchmarks/bench_clv.py --customers 100000 1000000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from predictive_segments import clv

# The planted parameters of tests/python/test_clv.py (alpha in days).
BG_TRUTH = {"r": 0.25, "alpha": 28.0, "a": 0.8, "b": 2.5}
GG_TRUTH = {"p": 6.0, "q": 4.0, "v": 15.0}


def bench(n: int, seed: int) -> dict:
    ages = np.random.default_rng([seed, 1]).uniform(365.0, 730.0, n)
    sim = clv.simulate_clv_customers(n, ages, 365, seed=seed, **BG_TRUTH, **GG_TRUTH)
    sim["recency_days"] = np.floor(sim.recency_days)
    sim["age_days"] = np.floor(sim.age_days)
    t0 = time.perf_counter()
    clv.BetaGeometricNBD().fit(sim.frequency, sim.recency_days, sim.age_days)
    t1 = time.perf_counter()
    model = clv.BgnbdClv().fit(sim)
    t2 = time.perf_counter()
    predicted = model.predict(sim, 365)
    t3 = time.perf_counter()
    if len(predicted) != n:
        raise RuntimeError(f"predict returned {len(predicted)} rows for {n} customers")
    return {
        "bgnbd_fit_s": t1 - t0,
        "bgnbd_gg_fit_s": t2 - t1,
        "predict_s": t3 - t2,
        "params": {**model.purchase_model_.params_, **model.spend_model_.params_},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--seed", type=int, default=2)
    args = parser.parse_args()
    planted = {**BG_TRUTH, **GG_TRUTH}
    for n in args.customers:
        got = bench(n, args.seed)
        print(
            f"{n:>9,} customers: BG/NBD fit {got['bgnbd_fit_s']:.1f} s, "
            f"BG/NBD + Gamma-Gamma fit {got['bgnbd_gg_fit_s']:.1f} s "
            f"(target at 1M: < 20 s), predict 365 days {got['predict_s']:.1f} s"
        )
        print(
            "  fitted vs planted: "
            + ", ".join(
                f"{name} {got['params'][name]:.3g} ({value:g})"
                for name, value in planted.items()
            )
        )


if __name__ == "__main__":
    main()
