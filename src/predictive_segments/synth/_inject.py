"""Inject bad rows: each injected row has exactly one defect.

Injected rows are derived from distinct source rows (never from test
accounts, never from rows that carry a flag), so no source is both copied and
contradicted and the staging reason priority never matters.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

Maker = Callable[[pa.Table, np.ndarray, np.random.Generator], pa.Table]


def split_counts(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split ``total`` rows over classes by weight (largest remainder)."""
    w = np.array(list(weights.values()), dtype=float)
    raw = total * w / w.sum()
    out = np.floor(raw).astype(int)
    rest = total - int(out.sum())
    out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return dict(zip(weights, out.tolist(), strict=True))


def inject(
    table: pa.Table,
    rate: float,
    weights: dict[str, float],
    makers: dict[str, Maker],
    eligible: np.ndarray,
    rng: np.random.Generator,
) -> tuple[pa.Table, dict[str, int]]:
    """Add about ``rate * rows`` defective rows, each placed after its source.

    ``makers[class](rows, source_index, rng)`` turns copies of the source rows
    into rows with that class's defect (same schema). Returns the new table
    and the number of injected rows per class.
    """
    candidates = np.flatnonzero(eligible)
    total = min(round(rate * table.num_rows), candidates.shape[0])
    counts = split_counts(total, weights)
    if total == 0:
        return table, counts
    sources = rng.choice(candidates, size=total, replace=False)
    parts, srcs, at = [], [], 0
    for cls, k in counts.items():
        if k == 0:
            continue
        src = np.sort(sources[at : at + k])
        at += k
        parts.append(makers[cls](table.take(pa.array(src)), src, rng))
        srcs.append(src)
    src_all = np.concatenate(srcs)
    injected = pa.concat_tables(parts)
    order = np.argsort(src_all, kind="stable")
    src_sorted = src_all[order]
    n, m = table.num_rows, src_all.shape[0]
    # Row j of the original table moves down by the injected rows before it;
    # the k-th injected row (by source) lands right after its source.
    perm = np.empty(n + m, dtype=np.int64)
    orig_pos = np.arange(n) + np.searchsorted(src_sorted, np.arange(n), side="left")
    perm[orig_pos] = np.arange(n)
    perm[src_sorted + np.arange(m) + 1] = n + order
    combined = pa.concat_tables([table, injected])
    return combined.take(pa.array(perm)).combine_chunks(), counts


def replace(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    """Return ``table`` with column ``name`` replaced by ``values``."""
    i = table.schema.get_field_index(name)
    return table.set_column(i, table.schema.field(i), values.cast(table.schema[i].type))


def same_dict(table: pa.Table, name: str, codes: np.ndarray) -> pa.Array:
    """Codes into the dictionary of the dictionary column ``name``."""
    col = table.column(name)
    dictionary = (
        col.chunk(0).dictionary if col.num_chunks else pa.array([], pa.string())
    )
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), dictionary)
