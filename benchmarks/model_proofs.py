"""Print the model-quality proofs of a built warehouse against its demo truth.

Not a test: it prints the figures the integration tests assert margins on
(tests/integration/test_model_quality.py), for a warehouse of any scale, as a
Markdown table and optionally JSON.

    .venv/bin/python benchmarks/model_proofs.py --db warehouse.duckdb --raw data/raw
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import duckdb

from predictive_segments.synth import proofs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="built DuckDB warehouse")
    parser.add_argument("--raw", required=True, help="raw directory with truth/")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    truth = proofs.read_truth(args.raw)
    connection = duckdb.connect(args.db, read_only=True)
    figures = {
        "churn AUC": proofs.churn_auc(connection, truth),
        "purchase AUC": proofs.purchase_auc(connection, truth),
        "CLV top-decile capture": proofs.clv_capture(connection, truth),
        "segments ARI vs behavioral personas": proofs.segments_ari(connection, truth),
        "lookalike rising-value lift, top tier": proofs.lookalike_rising_lift(
            connection, truth
        ),
    }
    for campaign, qini in proofs.uplift_qini(connection, args.raw).items():
        figures[f"uplift Qini {campaign} ({qini['status']})"] = qini
    connection.close()

    print("| proof | model | oracle | rows |")
    print("|---|---|---|---|")
    for name, f in figures.items():
        oracle = f.get("oracle")
        rows = next(
            f[k]
            for k in ("customers", "participants", "candidates")
            if k in f and f[k] is not None
        )
        model = "n/a" if f["model"] is None else f"{f['model']:.4f}"
        print(
            f"| {name} | {model} | "
            f"{'' if oracle is None else f'{oracle:.4f}'} | {rows} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
