"""Write a SynthResult to disk atomically (temp dir, then rename)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ._generate import RAW_TABLES, SynthResult

FORMATS = ("parquet", "csv")


def _decoded(table: pa.Table) -> pa.Table:
    """Dictionary columns -> plain strings (CSV cannot hold dictionaries) and
    timestamps -> whole seconds (all times are whole seconds)."""
    cols = []
    for c in table.columns:
        if pa.types.is_dictionary(c.type):
            c = c.cast(c.type.value_type)
        elif pa.types.is_timestamp(c.type):
            c = c.cast(pa.timestamp("s"))
        cols.append(c)
    return pa.table(cols, names=table.column_names)


def _write_table(table: pa.Table, path: Path, fmt: str, csv_quoting: str) -> None:
    if fmt == "parquet":
        pq.write_table(table, path, compression="zstd", compression_level=1)
    else:
        options = pacsv.WriteOptions(quoting_style=csv_quoting)
        pacsv.write_csv(_decoded(table), path, options)


def write(
    result: SynthResult,
    out_dir: str | Path,
    fmt: str = "parquet",
    csv_quoting: str = "needed",
) -> Path:
    """Write the raw tables, ``truth/`` and ``truth/manifest.json`` to ``out_dir``.

    Everything is written to a temporary directory beside ``out_dir`` first and
    then moved into place file by file with atomic renames, so an interrupted
    run never leaves a half-written file. Files of the known raw tables that
    this run does not produce (or produces in the other format) are removed,
    so the directory always describes one data set. ``csv_quoting`` is
    pyarrow's CSV ``quoting_style`` ("needed" quotes every text value, "none"
    writes values bare). Returns ``out_dir``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        started = time.perf_counter()
        for name, table in result.tables.items():
            _write_table(table, tmp / f"{name}.{fmt}", fmt, csv_quoting)
        truth = tmp / "truth"
        truth.mkdir()
        for name, table in result.truth.items():
            pq.write_table(table, truth / f"{name}.parquet", compression="zstd")
        manifest = dict(result.manifest)
        manifest["format"] = fmt
        manifest["write_seconds"] = round(time.perf_counter() - started, 2)
        (truth / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")

        out.mkdir(parents=True, exist_ok=True)
        for name in RAW_TABLES:
            for ext in FORMATS:
                stale = out / f"{name}.{ext}"
                if stale.exists() and not (tmp / stale.name).exists():
                    stale.unlink()
        for path in sorted(tmp.glob("*.*")):
            os.replace(path, out / path.name)
        old = None
        if (out / "truth").exists():
            old = out.parent / f".{out.name}.old-truth-{os.getpid()}"
            os.replace(out / "truth", old)
        os.replace(truth, out / "truth")
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
