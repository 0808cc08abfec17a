"""The one place demo data is written: column order and types come from the contract.

CSV: header line, then rows written by pyarrow (ISO dates, ``YYYY-MM-DD HH:MM:SS`` timestamps,
``true``/``false``, empty field for null, shortest round-trip float text, ``\\n`` line ends, no
quoting: values must not contain ``,``, ``"`` or newlines, which pyarrow refuses). Parquet:
the same typed columns. Both are byte-identical for identical input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sop_pipeline.contract import EXTRACTS

ARROW_TYPES = {
    "str": pa.string(),
    "float": pa.float64(),
    "int": pa.int64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("s"),
    "bool": pa.bool_(),
}
FORMATS = ("csv", "parquet")
_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="none", delimiter=",")

Columns = Mapping[str, object]  # DataFrame or dict of column -> array-like


def _arrow_column(values, typ: str, n: int) -> pa.Array:
    """Convert one column (numpy/pandas/pyarrow) to the contract's arrow type."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values.cast(ARROW_TYPES[typ])
    if np.isscalar(values) or values is None:
        values = [values] * n
    arr = np.asarray(values)
    if typ == "date" and arr.dtype.kind == "M":
        arr = arr.astype("datetime64[D]")
    elif typ == "timestamp" and arr.dtype.kind == "M":
        arr = arr.astype("datetime64[s]")
    elif typ == "float" and arr.dtype.kind in "iuf":
        arr = arr.astype(np.float64)
    return pa.array(arr, type=ARROW_TYPES[typ], from_pandas=True)


def to_table(name: str, data: Columns, extra_front: Mapping[str, str] | None = None) -> pa.Table:
    """A pyarrow table with exactly the contract columns of ``name`` (extra columns first)."""
    spec = dict(extra_front or {}) | EXTRACTS[name].columns
    given = list(data.keys())
    missing = [c for c in spec if c not in given]
    unknown = [c for c in given if c not in spec]
    if missing or unknown:
        raise ValueError(f"{name}: missing columns {missing}, unexpected columns {unknown}")
    n = len(data[next(iter(spec))]) if not np.isscalar(data[next(iter(spec))]) else 1
    arrays = [_arrow_column(data[c], t, n) for c, t in spec.items()]
    return pa.Table.from_arrays(arrays, schema=pa.schema([(c, ARROW_TYPES[t]) for c, t in spec.items()]))


class _Sink:
    """Streaming writer for one file: ``write(table)`` repeatedly, then ``close()``."""

    def __init__(self, path: Path, schema: pa.Schema, fmt: str):
        self.rows = 0
        self._fmt = fmt
        if fmt == "csv":
            self._fh = open(path, "wb")
            self._fh.write((",".join(schema.names) + "\n").encode("utf-8"))
            self._writer = pacsv.CSVWriter(self._fh, schema, write_options=_CSV_OPTIONS)
        else:
            self._writer = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table)
            self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
        if self._fmt == "csv":
            self._fh.close()


class ExtractWriter:
    """Writes extracts to ``out_dir/<name>.<fmt>`` and ground truth to ``out_dir/_truth/``."""

    def __init__(self, out_dir: str | Path, fmt: str = "csv"):
        if fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
        self.out_dir = Path(out_dir)
        self.fmt = fmt
        self.truth_dir = self.out_dir / "_truth"
        self.rows: dict[str, int] = {}
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.truth_dir.mkdir(parents=True, exist_ok=True)
        for name in EXTRACTS:  # never leave a stale file of the other format behind
            for ext in FORMATS:
                (self.out_dir / f"{name}.{ext}").unlink(missing_ok=True)

    def path(self, name: str) -> Path:
        return self.out_dir / f"{name}.{self.fmt}"

    def write(self, name: str, data: Columns, extra_front: Mapping[str, str] | None = None) -> int:
        """Write one whole extract; returns its row count."""
        table = to_table(name, data, extra_front)
        sink = _Sink(self.path(name), table.schema, self.fmt)
        sink.write(table)
        sink.close()
        self.rows[name] = table.num_rows
        return table.num_rows

    def open_stream(self, name: str) -> "_StreamingExtract":
        """Write an extract chunk by chunk (e.g. tens of millions of POS rows)."""
        return _StreamingExtract(self, name)

    def write_truth(self, name: str, df: pd.DataFrame) -> None:
        """Ground truth for tests: always CSV, never read by the pipeline."""
        table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
        for i, field in enumerate(table.schema):  # truth dates are calendar days
            if pa.types.is_timestamp(field.type):
                table = table.set_column(i, field.name, table.column(i).cast(pa.date32()))
        sink = _Sink(self.truth_dir / f"{name}.csv", table.schema, "csv")
        sink.write(table)
        sink.close()

    def write_text(self, relpath: str, text: str) -> None:
        (self.truth_dir / relpath).write_text(text, encoding="utf-8")


class _StreamingExtract:
    def __init__(self, writer: ExtractWriter, name: str):
        self._writer = writer
        self._name = name
        self._sink: _Sink | None = None

    def write(self, data: Columns) -> None:
        table = to_table(self._name, data)
        if self._sink is None:
            self._sink = _Sink(self._writer.path(self._name), table.schema, self._writer.fmt)
        self._sink.write(table)

    def close(self) -> int:
        if self._sink is None:  # nothing written: still leave an empty file with the header
            self.write({c: np.array([], dtype=object) for c in EXTRACTS[self._name].columns})
        self._sink.close()
        self._writer.rows[self._name] = self._sink.rows
        return self._sink.rows

    def __enter__(self) -> "_StreamingExtract":
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
