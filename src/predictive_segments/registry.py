"""Model registry: what was trained, on what, how good it is, and whether it serves.

Every training run of every model kind appends one row (see `REGISTRY_COLUMNS`).
A row's status is one of

- ``approved``: eligible data and every quality gate met; its scores publish;
- ``rejected``: eligible data but a quality gate failed; it never publishes,
  the latest approved model of the kind keeps serving;
- ``insufficient_data``: an eligibility gate failed (too few examples, a single
  class, no control group, ...); nothing was trained.

The version id is a hash of everything that determines the model: kind,
parameters, feature list, a fingerprint of the training data and the code
version, so that equal inputs give equal ids and any change gives a new one.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

APPROVED = "approved"
REJECTED = "rejected"
INSUFFICIENT_DATA = "insufficient_data"
STATUSES = (APPROVED, REJECTED, INSUFFICIENT_DATA)

REGISTRY_COLUMNS = [
    "model_kind",
    "model_version",
    "status",
    "reason",
    "as_of_date",
    "training_cutoff",
    "parameters",
    "features",
    "metrics",
    "data_fingerprint",
    "code_version",
    "artifact",
    "run_id",
    "trained_at",
]

_PACKAGE_DIR = Path(__file__).resolve().parent


def canonical_json(value: Any) -> str:
    """JSON text with sorted keys and no whitespace; NaN and infinities become null.

    Used for hashing and for the registry's JSON columns, so equal values always
    give equal text.
    """
    return json.dumps(_jsonable(value), sort_keys=True, separators=(",", ":"))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def data_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 (hex) of a frame's columns, dtypes and values, in row order."""
    digest = hashlib.sha256()
    digest.update(
        canonical_json([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode()
    )
    if len(frame):
        hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        digest.update(np.ascontiguousarray(hashed).tobytes())
    return digest.hexdigest()


def combined_fingerprint(*fingerprints: str) -> str:
    """One fingerprint of several (e.g. a model's data and a model it uses)."""
    return hashlib.sha256("\n".join(fingerprints).encode()).hexdigest()


def code_version() -> str:
    """Hash (hex, 16 characters) of the package sources that train and score.

    The demo-data generator (``synth``) never runs inside a model, so it is
    left out: regenerating demo data code does not version the models.
    """
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE_DIR.rglob("*.py")):
        if "synth" in path.relative_to(_PACKAGE_DIR).parts:
            continue
        digest.update(path.relative_to(_PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_version(
    kind: str,
    parameters: Mapping[str, Any],
    features: Sequence[str],
    fingerprint: str,
    code: str | None = None,
) -> str:
    """Version id (hex, 16 characters) of a model: equal inputs, equal id."""
    payload = canonical_json(
        {
            "kind": kind,
            "parameters": parameters,
            "features": list(features),
            "data": fingerprint,
            "code": code if code is not None else code_version(),
        }
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class GateResult:
    """Outcome of the quality gates: a status and, unless approved, why."""

    status: str
    reason: str | None = None


def evaluate_gates(
    metrics: Mapping[str, Any],
    minimums: Mapping[str, float] | None = None,
    maximums: Mapping[str, float] | None = None,
) -> GateResult:
    """Check metrics against gates: ``minimums`` are floors, ``maximums`` ceilings.

    A gated metric that is missing or not a finite number fails its gate.
    Returns ``approved`` when every gate holds, else ``rejected`` with a reason
    listing every failed gate, e.g. ``"auc 0.52 < gate 0.65"``.
    """
    failures = []
    for bounds, is_floor in ((minimums or {}, True), (maximums or {}, False)):
        for name, bound in bounds.items():
            value = metrics.get(name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                failures.append(f"{name} is missing or not a number (gate {bound:g})")
            elif is_floor and value < bound:
                failures.append(f"{name} {value:.4g} < gate {bound:g}")
            elif not is_floor and value > bound:
                failures.append(f"{name} {value:.4g} > gate {bound:g}")
    if failures:
        return GateResult(REJECTED, "; ".join(failures))
    return GateResult(APPROVED)


def registry_row(
    *,
    kind: str,
    status: str,
    reason: str | None,
    as_of_date: Any,
    training_cutoff: Any,
    parameters: Mapping[str, Any],
    features: Sequence[str],
    metrics: Mapping[str, Any],
    fingerprint: str,
    artifact: bytes | None,
    run_id: str,
    trained_at: Any,
    code: str | None = None,
) -> dict[str, Any]:
    """One registry row (a dict keyed by `REGISTRY_COLUMNS`)."""
    if status not in STATUSES:
        raise ValueError(
            f"status must be one of {', '.join(STATUSES)} (got {status!r})"
        )
    if status != APPROVED and not reason:
        raise ValueError(f"a {status} model needs a reason")
    code = code if code is not None else code_version()
    return {
        "model_kind": kind,
        "model_version": model_version(kind, parameters, features, fingerprint, code),
        "status": status,
        "reason": reason,
        "as_of_date": as_of_date,
        "training_cutoff": training_cutoff,
        "parameters": canonical_json(parameters),
        "features": canonical_json(list(features)),
        "metrics": canonical_json(metrics),
        "data_fingerprint": fingerprint,
        "code_version": code,
        "artifact": artifact,
        "run_id": run_id,
        "trained_at": trained_at,
    }


def latest_approved(registry: pd.DataFrame, kind: str) -> pd.Series | None:
    """The most recently trained approved row of ``kind``, or None when there is none.

    Rows are ordered by ``trained_at`` then by position, so the newest wins.
    """
    rows = registry[(registry["model_kind"] == kind) & (registry["status"] == APPROVED)]
    if rows.empty:
        return None
    order = np.lexsort((np.arange(len(rows)), rows["trained_at"].to_numpy()))
    return rows.iloc[order[-1]]


def _registry_schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("model_kind", pa.string()),
            ("model_version", pa.string()),
            ("status", pa.string()),
            ("reason", pa.string()),
            ("as_of_date", pa.date32()),
            ("training_cutoff", pa.date32()),
            ("parameters", pa.string()),
            ("features", pa.string()),
            ("metrics", pa.string()),
            ("data_fingerprint", pa.string()),
            ("code_version", pa.string()),
            ("artifact", pa.binary()),
            ("run_id", pa.string()),
            ("trained_at", pa.timestamp("us")),
        ]
    )


def to_arrow(rows: Sequence[Mapping[str, Any]]):
    """Registry rows as a pyarrow Table with the registry's fixed schema."""
    import pyarrow as pa

    schema = _registry_schema()
    columns = {}
    for field in schema:
        values = [_arrow_value(row[field.name], field.type) for row in rows]
        columns[field.name] = pa.array(values, type=field.type)
    return pa.table(columns, schema=schema)


def _arrow_value(value: Any, arrow_type: Any) -> Any:
    import pyarrow as pa

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if pa.types.is_date32(arrow_type):
        return pd.Timestamp(value).date()
    if pa.types.is_timestamp(arrow_type):
        return pd.Timestamp(value).tz_localize(None).to_pydatetime()
    return value


def as_bool(value: Any) -> bool:
    """A configuration flag as a bool: dbt renders config values as text."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", "none", ""):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def as_list(value: Any) -> list[Any]:
    """A configuration list: dbt renders a var holding a list as its text."""
    import ast

    if isinstance(value, list | tuple):
        return list(value)
    parsed = ast.literal_eval(str(value))
    if not isinstance(parsed, list | tuple):
        raise ValueError(f"expected a list, got {value!r}")
    return list(parsed)


def skip_training(dbt: Any, session: Any, registry_model: str, family: str):
    """The append of a ``train_*`` model in a build that does not retrain.

    With the var ``retrain`` false a registry model trains nothing and
    appends no row; the score models serve the latest approved rows already
    there. ``dbt`` and ``session`` are the model's: the only thing read is
    the number of rows of its own registry table (``dbt.this``; none when
    the model is not incremental yet, i.e. the table does not exist).
    Returns an empty pyarrow Table with the registry's schema. Raises
    ``ValueError`` naming ``registry_model`` and ``family`` when the
    registry holds no row at all: nothing was ever trained, so there is
    nothing to serve and a build with retrain true must come first. A
    registry whose runs were all rejected or insufficient is not an error:
    the score tables then say so per customer (``no_model_note``), as in a
    build that retrains.
    """
    trained = 0
    if dbt.is_incremental:
        counted = session.sql(f"select count(*) as n from {dbt.this}").df()
        trained = int(counted["n"].iloc[0])
    if trained == 0:
        raise ValueError(
            f"{registry_model}: retrain is false, but no {family} model has "
            "ever been trained in this warehouse, so there is nothing to "
            "score with. Build once with retrain true (dbt build --vars "
            "'{retrain: true}', the default), then retrain false serves the "
            "latest approved model."
        )
    return to_arrow([])


def no_model_note(registry: pd.DataFrame, kind: str) -> str:
    """Why no model of ``kind`` serves: never trained, or the latest run's status."""
    rows = registry[registry["model_kind"] == kind]
    if rows.empty:
        return f"no {kind} model has been trained yet"
    last = rows.sort_values("trained_at").iloc[-1]
    return (
        f"no approved {kind} model: the latest run was {last['status']} "
        f"({last['reason']})"
    )
