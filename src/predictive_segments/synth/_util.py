"""Small vectorized helpers: Arrow string building, times, random streams."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SECONDS_PER_DAY = 86_400

# Local-time hour-of-day profile of shopping activity (sums to 1).
_HOUR_WEIGHTS = np.array(
    [
        *(1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 4, 4.5, 5),  # 00-11 h
        *(5.5, 5, 4.5, 4.5, 4.8, 5.2, 6, 7, 7.5, 7, 5, 2.5),  # 12-23 h
    ]
)
_HOUR_P = _HOUR_WEIGHTS / _HOUR_WEIGHTS.sum()


def stream(seed: int, name: str) -> np.random.Generator:
    """Return the random generator of one named stage, derived from ``seed``.

    Each stage has its own stream so that changing one stage does not shift
    the draws of the others.
    """
    key = int.from_bytes(name.encode(), "little") % (2**63)
    return np.random.default_rng([seed, key])


def time_of_day(rng: np.random.Generator, utc_offset_hours: np.ndarray) -> np.ndarray:
    """Return UTC fractions of a day for activity at local day-time hours."""
    n = utc_offset_hours.shape[0]
    hour = rng.choice(24, size=n, p=_HOUR_P)
    local = (hour + rng.random(n)) / 24.0
    return np.mod(local - utc_offset_hours / 24.0, 1.0)


def with_time_of_day(
    t: np.ndarray, tod: np.ndarray, lower: np.ndarray | None = None
) -> np.ndarray:
    """Move times ``t`` (days) to ``tod`` within the same day, unless that
    would put them before ``lower``; returns days."""
    moved = np.floor(t) + tod
    if lower is None:
        return moved
    return np.where(moved >= lower, moved, t)


def to_seconds(t: np.ndarray) -> np.ndarray:
    """Days relative to T -> whole seconds relative to T (int64)."""
    return np.round(t * SECONDS_PER_DAY).astype(np.int64)


def ts_array(epoch_s: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """Epoch seconds -> naive UTC ``timestamp[us]`` Arrow array."""
    return pa.array(epoch_s.astype(np.int64) * 1_000_000, pa.timestamp("us"), mask=null)


def ts_text(epoch_s: np.ndarray) -> pa.Array:
    """Epoch seconds -> text 'YYYY-MM-DD HH:MM:SS' (UTC)."""
    return pc.cast(pa.array(epoch_s.astype(np.int64), pa.timestamp("s")), pa.string())


def id_array(
    prefix: str, numbers: np.ndarray, width: int = 0, null: np.ndarray | None = None
) -> pa.Array:
    """Integers -> ids like 'C00000042' (zero padded to ``width`` digits)."""
    digits = pc.cast(pa.array(numbers.astype(np.int64)), pa.string())
    if width:
        digits = pc.utf8_lpad(digits, width, "0")
    out = pc.binary_join_element_wise(prefix, digits, "")
    if null is not None and null.any():
        out = pc.if_else(pa.array(null), pa.scalar(None, pa.string()), out)
    return out


def dict_array(codes: np.ndarray, values: np.ndarray, null: np.ndarray | None = None):
    """Integer codes into ``values`` -> dictionary-encoded string array."""
    idx = pa.array(codes.astype(np.int32), mask=null)
    return pa.DictionaryArray.from_arrays(idx, pa.array(values.tolist(), pa.string()))


def money_text(cents: np.ndarray) -> pa.Array:
    """Integer cents -> decimal text like '-12.05' (major units)."""
    cents = cents.astype(np.int64)
    mag = np.abs(cents)
    whole = pc.cast(pa.array(mag // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(mag % 100), pa.string()), 2, "0")
    sign = pc.if_else(pa.array(cents < 0), "-", "")
    return pc.binary_join_element_wise(sign, whole, ".", frac, "")


def group_starts(owner: np.ndarray) -> np.ndarray:
    """For a grouped (sorted) owner array, the index of each row's group start."""
    n = owner.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.empty(n, dtype=bool)
    new[0] = True
    new[1:] = owner[1:] != owner[:-1]
    starts = np.flatnonzero(new)
    return np.repeat(starts, np.diff(np.append(starts, n)))


def sample_rows(rng: np.random.Generator, cum_p: np.ndarray, rows: np.ndarray):
    """Sample one category per row from per-row cumulative probabilities."""
    u = rng.random(rows.shape[0])[:, None]
    return np.minimum((cum_p[rows] < u).sum(axis=1), cum_p.shape[1] - 1)


def roc_auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half); nan if one class."""
    from scipy.stats import rankdata

    label = label.astype(bool)
    n_pos, n_neg = int(label.sum()), int((~label).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[label].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
