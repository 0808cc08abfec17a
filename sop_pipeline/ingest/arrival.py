"""When has a complete new set of extracts landed? The decision behind the extracts sensor.

No Dagster here: `sop_pipeline.assets.ingest.extracts_sensor` reads the folder with
`snapshot`, calls `decide` and turns the `Decision` into a run request or a skip reason.

A set is launched when, on one tick, all of these hold:

1. the folder (SOP_EXTRACTS_DIR) exists;
2. the required extracts of the contract are there (`items`, and `pos_sales` or
   `sales_orders`), each as exactly one file (`<name>.csv` or `<name>.parquet`);
3. nothing in the folder is still being written: **every** file in it (extracts, and also any
   other file such as a copy tool's `.part` temp file) was last modified at least
   `SETTLE_SECONDS` ago, **and** the folder looks the same as on the previous tick (same files,
   sizes and modification times). The second rule catches writers that stall for longer than
   the settle time or set old modification times (`cp -p`, `rsync -t`) and clock skew on
   network drives; it means a set is launched one tick after the folder has gone quiet at the
   earliest (with the sensor's 30 s interval: about 60-90 s after the last byte lands);
4. the content hash of the set (SHA-256 over the names and bytes of the contract's extract
   files, sorted by name; sub-folders and other files are not part of it) has not been
   launched before. The hash is the run key, so Dagster never launches the same files twice
   either, even if the cursor is reset.

The cursor (JSON) keeps the previous tick's fingerprint, the hash computed for it (a set is
hashed once, not on every tick) and the hashes launched (the last `KEEP_LAUNCHED`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from sop_pipeline.contract import DEMAND_EXTRACTS, EXTRACTS

SETTLE_SECONDS = 60  # nothing in the folder modified for this long before a set is "landed"
KEEP_LAUNCHED = 50  # launched hashes remembered in the cursor (Dagster's run keys remember all)
SUFFIXES = (".csv", ".parquet")
REQUIRED = tuple(n for n, e in EXTRACTS.items() if e.required)


@dataclass(frozen=True)
class FileStat:
    name: str
    size: int
    mtime_ns: int


@dataclass
class Cursor:
    fingerprint: str | None = None  # the folder as seen on the previous tick
    content_hash: str | None = None  # the hash of the extracts for that fingerprint, once computed
    launched: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> "Cursor":
        """The cursor of the previous tick; an empty or unreadable one starts afresh."""
        try:
            data = json.loads(text or "{}")
            return cls(
                fingerprint=data.get("fingerprint"),
                content_hash=data.get("content_hash"),
                launched=[str(h) for h in data.get("launched", [])],
            )
        except (ValueError, AttributeError, TypeError):
            return cls()


@dataclass(frozen=True)
class Decision:
    cursor: Cursor
    run_key: str | None = None  # launch a run with this key ...
    skip_reason: str | None = None  # ... or say why not
    files: tuple[str, ...] = ()  # the extract files of the set (for the run's tags)


def snapshot(folder: Path) -> list[FileStat] | None:
    """Regular files directly in `folder` (sorted by name), or None when it is not a folder."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    out = []
    for entry in folder.iterdir():
        try:
            if entry.is_file():
                st = entry.stat()
                out.append(FileStat(entry.name, st.st_size, st.st_mtime_ns))
        except OSError:  # removed between listing and stat: the next tick sees the folder as it is
            continue
    return sorted(out, key=lambda f: f.name)


def extract_files(files: Sequence[FileStat]) -> dict[str, list[str]]:
    """Contract extract name -> its files in the folder (more than one is an error)."""
    found: dict[str, list[str]] = {}
    for f in files:
        for suffix in SUFFIXES:
            if f.name.endswith(suffix) and f.name[: -len(suffix)] in EXTRACTS:
                found.setdefault(f.name[: -len(suffix)], []).append(f.name)
    return found


def missing_required(present: set[str]) -> list[str]:
    """Required extracts that are not there, in words (empty: the set is complete)."""
    missing = [f"{n} ({n}.csv or {n}.parquet)" for n in REQUIRED if n not in present]
    if not present & set(DEMAND_EXTRACTS):
        missing.append(f"one of {' or '.join(DEMAND_EXTRACTS)} (demand history)")
    return missing


def fingerprint(files: Sequence[FileStat]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.name}\0{f.size}\0{f.mtime_ns}\n".encode())
    return h.hexdigest()


def content_hash(folder: Path, names: Sequence[str], chunk: int = 1 << 20) -> str:
    """SHA-256 over the names and bytes of `names` in `folder`, in name order."""
    h = hashlib.sha256()
    for name in sorted(names):
        path = Path(folder) / name
        h.update(f"{name}\0{path.stat().st_size}\0".encode())
        with open(path, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    return h.hexdigest()


def _age(seconds: float) -> str:
    return f"{seconds:.0f} s ago" if seconds >= 0 else f"{-seconds:.0f} s in the future (clock skew?)"


def decide(
    folder: Path | str,
    files: Sequence[FileStat] | None,
    cursor: Cursor,
    now_ns: int,
    hash_files: Callable[[list[str]], str],
    settle_seconds: float = SETTLE_SECONDS,
) -> Decision:
    """Launch (run_key) or skip (skip_reason), and the cursor for the next tick.

    `files`: `snapshot(folder)`; `hash_files(names)`: the content hash of those files
    (`content_hash` bound to the folder), called only once the set is complete and settled
    and only if the cursor has no hash for this fingerprint.
    """
    if files is None:
        return Decision(
            Cursor(launched=cursor.launched),
            skip_reason=f"extracts folder {folder} does not exist (SOP_EXTRACTS_DIR): nothing to ingest",
        )
    fp = fingerprint(files)
    same_as_last_tick = fp == cursor.fingerprint
    known_hash = cursor.content_hash if same_as_last_tick else None
    nxt = Cursor(fingerprint=fp, content_hash=known_hash, launched=cursor.launched)
    by_extract = extract_files(files)
    missing = missing_required(set(by_extract))
    if missing:
        return Decision(
            nxt,
            skip_reason=(
                f"waiting for required extracts in {folder}: {', '.join(missing)} missing "
                f"({len(by_extract)} of {len(EXTRACTS)} contract extracts present)"
            ),
        )
    doubled = sorted(" and ".join(v) for v in by_extract.values() if len(v) > 1)
    if doubled:
        return Decision(
            nxt,
            skip_reason=(f"ambiguous extracts in {folder}: {'; '.join(doubled)} both exist; keep one file per extract"),
        )
    young = [(f, (now_ns - f.mtime_ns) / 1e9) for f in files if (now_ns - f.mtime_ns) / 1e9 < settle_seconds]
    if young:
        shown = ", ".join(f"{f.name} (modified {_age(age)})" for f, age in young[:5])
        more = f" and {len(young) - 5} more" if len(young) > 5 else ""
        return Decision(
            nxt,
            skip_reason=(
                f"files still being written in {folder}: {shown}{more}; waiting until nothing in the folder has "
                f"changed for {settle_seconds:.0f} s"
            ),
        )
    if not same_as_last_tick:
        return Decision(
            nxt,
            skip_reason=(
                f"the files in {folder} differ from the previous check ({len(files)} files now): waiting one more "
                f"tick to see the same names, sizes and modification times before launching"
            ),
        )
    names = sorted(n for v in by_extract.values() for n in v)
    digest = known_hash or hash_files(names)
    nxt = Cursor(fingerprint=fp, content_hash=digest, launched=cursor.launched)
    if digest in cursor.launched:
        return Decision(
            nxt,
            files=tuple(names),
            skip_reason=(
                f"already processed: this set of {len(names)} extract files (content hash {digest[:12]}) was launched "
                f"before; change or replace a file to run the cycle again (or launch sop_cycle by hand)"
            ),
        )
    nxt = Cursor(fingerprint=fp, content_hash=digest, launched=[*cursor.launched, digest][-KEEP_LAUNCHED:])
    return Decision(nxt, run_key=digest, files=tuple(names))
