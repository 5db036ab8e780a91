"""Score tables: fixed Arrow schemas whatever the values (all null, empty, NaN)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from predictive_segments import scores

PROJECT_DIR = Path(__file__).resolve().parents[2]


def _all_null_frame(columns, rows: int) -> pd.DataFrame:
    return pd.DataFrame({name: [None] * rows for name in columns})


@pytest.mark.parametrize("model_name", sorted(scores.SCORE_SCHEMAS))
@pytest.mark.parametrize("rows", [0, 3])
def test_every_column_is_typed_even_when_all_null(model_name, rows):
    schema = scores.SCORE_SCHEMAS[model_name]
    table = scores.score_table(_all_null_frame(schema, rows), model_name)
    assert table.num_rows == rows
    assert table.column_names == list(schema)
    for field in table.schema:
        assert not pa.types.is_null(field.type), field.name
        assert field.type == pa.type_for_alias(schema[field.name])


def test_values_convert_to_the_schema_types():
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "as_of_date": [dt.date(2026, 3, 31)] * 3,
            "is_lookalike_seed": [True, False, False],
            "lookalike_score": [0.9, np.nan, 0.1],
            "lookalike_percentile": [None, 99.5, 10.0],
            "lookalike_tier": [np.nan, 1.0, 10.0],
            "lookalike_model_version": ["v1", "v1", "v1"],
            "lookalike_note": [None, None, None],
        }
    )
    table = scores.score_table(frame, "score_lookalike")
    assert table.schema.field("lookalike_tier").type == pa.int32()
    assert table.column("lookalike_tier").to_pylist() == [None, 1, 10]
    # NaN is a missing score, stored as null, not as a NaN value.
    assert table.column("lookalike_score").to_pylist() == [0.9, None, 0.1]
    assert table.column("lookalike_note").type == pa.string()
    assert table.column("as_of_date").to_pylist() == [dt.date(2026, 3, 31)] * 3


def test_dates_from_timestamps_and_a_broadcast_scalar():
    frame = _all_null_frame(scores.SCORE_SCHEMAS["score_uplift"], 2)
    frame["customer_id"] = ["a", "b"]
    frame["as_of_date"] = pd.Timestamp("2026-03-31")
    table = scores.score_table(frame, "score_uplift")
    assert table.column("as_of_date").to_pylist() == [dt.date(2026, 3, 31)] * 2
    frame["as_of_date"] = pd.to_datetime(["2026-03-31", "2026-04-01"])
    table = scores.score_table(frame, "score_uplift")
    assert table.column("as_of_date").to_pylist() == [
        dt.date(2026, 3, 31),
        dt.date(2026, 4, 1),
    ]


def test_values_the_type_cannot_hold_exactly_are_refused_with_the_column():
    frame = _all_null_frame(scores.SCORE_SCHEMAS["score_lookalike"], 2)
    frame["lookalike_tier"] = [1.5, 2.0]
    with pytest.raises(ValueError, match="score_lookalike: column lookalike_tier"):
        scores.score_table(frame, "score_lookalike")
    frame["lookalike_tier"] = None
    frame["as_of_date"] = pd.to_datetime(["2026-03-31 10:00", "2026-03-31 00:00"])
    with pytest.raises(ValueError, match=r"as_of_date .*time of day"):
        scores.score_table(frame, "score_lookalike")


def test_missing_and_unexpected_columns_are_named():
    frame = _all_null_frame(scores.SCORE_SCHEMAS["score_churn"], 1)
    frame = frame.drop(columns="churn_reasons").assign(extra=1)
    with pytest.raises(ValueError, match=r"missing \['churn_reasons'\].*'extra'"):
        scores.score_table(frame, "score_churn")
    with pytest.raises(ValueError, match="no schema for 'score_unknown'"):
        scores.score_table(frame, "score_unknown")


def test_generic_schema_keeps_its_column_order():
    frame = pd.DataFrame({"b": [1, 2], "a": ["x", None]})
    table = scores.to_arrow_with_schema(frame, {"a": "string", "b": "int64"})
    assert table.column_names == ["a", "b"]
    assert table.column("b").to_pylist() == [1, 2]


def test_schemas_cover_every_score_model_and_match_its_documented_columns():
    model_files = {p.stem for p in (PROJECT_DIR / "python_models").glob("score_*.py")}
    assert set(scores.SCORE_SCHEMAS) == model_files
    documented = yaml.safe_load(
        (PROJECT_DIR / "python_models" / "_python_models.yml").read_text()
    )
    columns = {
        model["name"]: [column["name"] for column in model.get("columns", [])]
        for model in documented["models"]
    }
    for name, schema in scores.SCORE_SCHEMAS.items():
        assert columns[name] == list(schema), name
