"""Fixed output schemas of the score tables.

A score model returns a pandas frame whose columns may be entirely null (no
approved model, an empty campaign list, a note that applies to nobody). Left
to inference, such a column has no type: DuckDB stores it as type ``NULL``,
and a BI tool or a downstream contract cannot rely on it. Every score table
is therefore written with the schema listed here, whatever its values.

``SCORE_SCHEMAS`` maps each score model (a file ``python_models/<name>.py``)
to its ordered columns and their Arrow types (aliases accepted by
``pyarrow.type_for_alias``: ``string``, ``double``, ``int32``, ``int64``,
``bool``, ``date32``). The column descriptions live in
``python_models/_python_models.yml``; a unit test keeps both in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = ["SCORE_SCHEMAS", "score_table", "to_arrow_with_schema"]

SCORE_SCHEMAS: dict[str, dict[str, str]] = {
    "score_churn": {
        "customer_id": "string",
        "as_of_date": "date32",
        "churn_probability": "double",
        "churn_reasons": "string",
        "churn_model_version": "string",
        "churn_method": "string",
        "churn_score_note": "string",
    },
    "score_purchase_propensity": {
        "customer_id": "string",
        "as_of_date": "date32",
        "purchase_probability": "double",
        "purchase_model_version": "string",
        "purchase_method": "string",
        "purchase_score_note": "string",
    },
    "score_clv": {
        "customer_id": "string",
        "as_of_date": "date32",
        "predicted_clv": "double",
        "predicted_clv_p10": "double",
        "predicted_clv_p50": "double",
        "predicted_clv_p90": "double",
        "p_alive": "double",
        "expected_next_order_date": "date32",
        "clv_model_kind": "string",
        "clv_method": "string",
        "clv_model_version": "string",
        "clv_score_note": "string",
        "is_rising_value": "bool",
    },
    "score_segments": {
        "customer_id": "string",
        "as_of_date": "date32",
        "segment_id": "int64",
        "segment_name": "string",
        "segment_model_version": "string",
        "segment_note": "string",
    },
    "score_lookalike_oof": {
        "customer_id": "string",
        "as_of_date": "date32",
        "is_lookalike_seed": "bool",
        "is_heldout_seed": "bool",
        "lookalike_score": "double",
    },
    "score_lookalike": {
        "customer_id": "string",
        "as_of_date": "date32",
        "is_lookalike_seed": "bool",
        "lookalike_score": "double",
        "lookalike_percentile": "double",
        "lookalike_tier": "int32",
        "lookalike_model_version": "string",
        "lookalike_note": "string",
    },
    "score_uplift": {
        "customer_id": "string",
        "as_of_date": "date32",
        "campaign_id": "string",
        "uplift_score": "double",
        "p_treated": "double",
        "p_control": "double",
        "uplift_group": "string",
        "uplift_model_version": "string",
    },
    "score_micro_segments": {
        "customer_id": "string",
        "as_of_date": "date32",
        "micro_segment": "string",
    },
}


def to_arrow_with_schema(frame: pd.DataFrame, schema: Mapping[str, str]):
    """``frame`` as a pyarrow Table with exactly the columns and types of ``schema``.

    ``schema`` maps column name to an Arrow type alias, in output order. Every
    column gets its type even when all its values are null; NaN counts as
    null; whole floats become integers. Raises ``ValueError`` naming the
    column when the frame lacks a column, has one more, or holds a value the
    type cannot represent exactly (a fractional tier, a date with a time).
    """
    import pyarrow as pa

    missing = [name for name in schema if name not in frame.columns]
    extra = [str(name) for name in frame.columns if name not in schema]
    if missing or extra:
        raise ValueError(
            "the frame does not match its schema: "
            f"missing {missing or 'nothing'}, unexpected {extra or 'nothing'}; "
            "add or drop the columns in the model, or change the schema in "
            "predictive_segments.scores"
        )
    fields = [
        pa.field(name, pa.type_for_alias(alias)) for name, alias in schema.items()
    ]
    arrays = [_typed_array(frame[field.name], field) for field in fields]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _typed_array(values: pd.Series, field: Any):
    import pyarrow as pa

    if len(values) == 0 or values.isna().all():
        return pa.nulls(len(values), type=field.type)
    try:
        if pa.types.is_date32(field.type):
            # Dates arrive as datetime.date objects, numpy datetimes or text.
            values = pd.to_datetime(values)
            if getattr(values.dt, "tz", None) is not None:
                values = values.dt.tz_convert("UTC").dt.tz_localize(None)
            if (values.dropna() != values.dropna().dt.normalize()).any():
                raise ValueError("a value has a time of day; expected dates")
        array = pa.array(values, from_pandas=True)
        return array.cast(field.type, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError, ValueError) as e:
        raise ValueError(
            f"column {field.name} cannot be stored as {field.type}: {e}"
        ) from e


def score_table(frame: pd.DataFrame, model_name: str):
    """The output of score model ``model_name`` as a pyarrow Table with its schema.

    Raises ``ValueError`` when the model has no schema in ``SCORE_SCHEMAS``
    or the frame does not fit it (see ``to_arrow_with_schema``).
    """
    if model_name not in SCORE_SCHEMAS:
        raise ValueError(
            f"no schema for {model_name!r}: add it to SCORE_SCHEMAS in "
            f"predictive_segments.scores (known: {', '.join(sorted(SCORE_SCHEMAS))})"
        )
    try:
        return to_arrow_with_schema(frame, SCORE_SCHEMAS[model_name])
    except ValueError as e:
        raise ValueError(f"{model_name}: {e}") from e
