"""Column checks shared by the analytics modules (pure pandas, no Dagster).

Every analytics function that takes a DataFrame first checks that the columns it reads are
there, so a wrong extract or a renamed column stops with a message that names the frame, the
missing columns, the columns it needs and the columns it got, instead of a bare ``KeyError``
deep inside a groupby.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

# Frames can be wide (a plan has dozens of columns): name this many present columns, then count the rest.
_PRESENT_LIMIT = 40


def missing_columns(frame: pd.DataFrame, columns: Iterable[str]) -> list[str]:
    """The names in ``columns`` that ``frame`` lacks, in the order given, without repeats."""
    present = set(frame.columns)
    return [c for c in dict.fromkeys(columns) if c not in present]


def _names(values: Iterable[object], limit: int | None = None) -> str:
    names = [str(v) for v in values]
    if limit is not None and len(names) > limit:
        return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
    return ", ".join(names) if names else "(none)"


def require_columns(
    frame: pd.DataFrame,
    columns: Sequence[str],
    what: str,
    *,
    error: type[Exception] = ValueError,
    optional: Sequence[str] = (),
) -> None:
    """Raise ``error`` unless ``frame`` has every column in ``columns``.

    ``what`` names the frame in plain words ("weekly sales", "plan of record"). The message reads
    ``<what> is missing column(s) a, b; expected at least: ...[ (+ optional ...)]; has: ...``.
    ``optional`` only documents columns the caller also reads when present; they are not required.
    ``error`` lets a module raise its own ``ValueError`` subclass (``SafetyStockInputError``, ...).
    """
    missing = missing_columns(frame, columns)
    if not missing:
        return
    extra = f" (+ optional {_names(optional)})" if optional else ""
    raise error(
        f"{what} is missing column(s) {_names(missing)}; "
        f"expected at least: {_names(dict.fromkeys(columns))}{extra}; "
        f"has: {_names(frame.columns, _PRESENT_LIMIT)}"
    )
