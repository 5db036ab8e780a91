"""Synthetic demo data for predictive-segments: raw tables with planted truth.

``generate(SynthConfig(...))`` simulates customers with latent personas
(purchase, dropout, spend, engagement and campaign-response processes) and
returns the raw tables of docs/raw_contract.md (with injected bad rows), the
truth behind them and a manifest; ``write(result, out_dir)`` puts them on disk.
The ``true_*`` columns of the truth are the best possible prediction from the
observable data (see ``_oracle``), so models can be held to them.
``generate_real_export(RealExportConfig(...))`` and ``write_real_export``
make a CDNOW-like orders export instead (one 1997 cohort, orders only, text
nulls), with the true purchase and spend parameters per customer.
Command line: ``python -m predictive_segments.synth --help``.
"""

from ._generate import (
    ORDERS_ONLY_COLUMNS,
    RAW_COLUMNS,
    RAW_TABLES,
    SynthConfig,
    SynthResult,
    generate,
)
from ._params import CURRENCY_RATES, PERSONAS
from ._real_export import (
    NULL_SPELLINGS,
    RealExportConfig,
    generate_real_export,
    write_real_export,
)
from ._write import write

__all__ = [
    "CURRENCY_RATES",
    "NULL_SPELLINGS",
    "ORDERS_ONLY_COLUMNS",
    "PERSONAS",
    "RAW_COLUMNS",
    "RAW_TABLES",
    "RealExportConfig",
    "SynthConfig",
    "SynthResult",
    "generate",
    "generate_real_export",
    "write",
    "write_real_export",
]
