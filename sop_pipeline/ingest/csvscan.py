"""A streaming pre-scan of a CSV extract, before DuckDB reads it.

DuckDB's CSV reader is fast but does not say which line of the file an accepted row came from,
skips blank lines, and rejects a whole line for one non-UTF-8 byte. This scan (Python's C `csv`
module, a few million lines per second, constant memory apart from the exceptions it records)
gives the loader what it needs to keep every row accountable:

* where each record starts (`breaks`: record index -> line offset, only where the offset
  changes, i.e. after blank lines or quoted multi-line values), so accepted rows get their
  real line number;
* whether the file ends without a line break (the last line is then treated as truncated);
* for lines with bytes that are not UTF-8: a repaired copy of the file where each such value
  is decoded as Windows-1252 (Latin-1 for the five bytes CP1252 leaves undefined). Values in
  free-text columns are repaired with a note; values in any other column make the row fail
  rule `encoding` (the row is quarantined showing the decoded value).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 1 << 20


@dataclass
class CsvScan:
    source: Path  # the file DuckDB should read (the original or a repaired copy)
    n_records: int = 0  # data records (non-blank), header excluded
    # (record index, line - index, DuckDB line - index) wherever an offset changes. DuckDB numbers
    # lines without the line breaks inside quoted values; the file's own line numbers count them.
    breaks: list[tuple[int, int, int]] = field(default_factory=lambda: [(0, 2, 2)])
    last_line: int = 1  # start line of the last data record
    truncated: bool = False  # the file does not end with a line break
    multiline: dict[int, int] = field(default_factory=dict)  # start line -> end line of multi-line records
    # line -> [(column, decoded value)] for non-UTF-8 values outside free-text columns
    encoding_failures: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    repaired: list[tuple[int, str, str]] = field(default_factory=list)  # (line, column, decoded value)
    temp: Path | None = None

    def cleanup(self) -> None:
        if self.temp is not None:
            try:
                os.unlink(self.temp)
            except OSError:
                pass
            self.temp = None


def _bytes_facts(path: Path) -> tuple[bool, bytes]:
    """(is the whole file UTF-8, its last byte)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    valid, last = True, b""
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            last = chunk[-1:]
            if valid:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    valid = False
        if valid:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                valid = False
    return valid, last


def decode_legacy(raw: bytes) -> str:
    """Bytes that are not UTF-8, read as Windows-1252 (Latin-1 where CP1252 has no character)."""
    return "".join(
        raw[i : i + 1].decode("cp1252", errors="ignore") or raw[i : i + 1].decode("latin-1") for i in range(len(raw))
    )


def _is_utf8(text_latin1: str) -> bool:
    try:
        text_latin1.encode("latin-1").decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _repair(path: Path, header: list[str], free_text: set[str], scan: CsvScan) -> None:
    """Write a copy of `path` where every non-UTF-8 single-line record is decoded as CP1252."""
    fd, tmp = tempfile.mkstemp(prefix="sop_ingest_", suffix=".csv")
    scan.temp = Path(tmp)
    n_cols = len(header)
    with open(path, "rb") as src, os.fdopen(fd, "wb") as out:
        for lineno, line in enumerate(src, start=1):
            try:
                line.decode("utf-8")
                out.write(line)
                continue
            except UnicodeDecodeError:
                pass
            body = line.rstrip(b"\r\n")
            ending = line[len(body) :]
            rows = list(csv.reader(io.StringIO(body.decode("latin-1"), newline="")))
            if lineno == 1 or len(rows) != 1 or len(rows[0]) != n_cols or body.count(b'"') % 2:
                # not a plain one-line record: leave it, DuckDB rejects it as not UTF-8
                out.write(line)
                continue
            values = rows[0]
            for i, value in enumerate(values):
                if _is_utf8(value):
                    values[i] = value.encode("latin-1").decode("utf-8")
                    continue
                decoded = decode_legacy(value.encode("latin-1"))
                values[i] = decoded
                col = header[i]
                if col in free_text:
                    scan.repaired.append((lineno, col, decoded))
                else:
                    scan.encoding_failures.setdefault(lineno, []).append((col, decoded))
            buf = io.StringIO()
            csv.writer(buf, lineterminator="").writerow(values)
            out.write(buf.getvalue().encode("utf-8") + ending)
    scan.source = scan.temp


def scan_csv(path: Path, header: list[str], free_text: set[str]) -> CsvScan:
    """Scan `path` (header already checked): record positions, truncation, encoding repairs."""
    scan = CsvScan(source=path)
    valid_utf8, last = _bytes_facts(path)
    scan.truncated = last not in (b"\n", b"\r", b"")
    if not valid_utf8:
        _repair(path, header, free_text, scan)
    old_limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        with open(scan.source, newline="", encoding="latin-1") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            end, offset, doffset, rec, embedded = reader.line_num, 2, 2, 0, 0
            breaks = scan.breaks
            for fields in reader:
                start, end = end + 1, reader.line_num
                if not fields:  # a blank line: DuckDB skips it too
                    continue
                if start - rec != offset or start - embedded - rec != doffset:
                    offset, doffset = start - rec, start - embedded - rec
                    breaks.append((rec, offset, doffset))
                if end != start:
                    scan.multiline[start] = end
                    embedded += end - start
                scan.last_line = start
                rec += 1
            scan.n_records = rec
    finally:
        csv.field_size_limit(old_limit)
    if scan.n_records == 0:
        scan.truncated = False
    return scan
