"""Reference data the dbt project and the package must agree on."""

from __future__ import annotations

import csv
from pathlib import Path

from predictive_segments.synth import CURRENCY_RATES

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def test_currency_rates_seed_matches_the_generator():
    with (SEEDS / "currency_rates.csv").open() as handle:
        seed = {
            row["currency_code"]: float(row["rate_to_eur"])
            for row in csv.DictReader(handle)
        }
    assert seed == {code: float(rate) for code, rate in CURRENCY_RATES.items()}
