"""Sizes, the day/week calendar and seeded random streams shared by every demo module.

Conventions used across `sop_pipeline.demo`:

* a *day index* ``d`` counts days from the first history day (a Monday), so ``d // 7`` is the
  week index and ``d % 7`` the weekday (0 = Monday);
* history covers ``HISTORY_WEEKS`` full ISO weeks ending on ``end_date`` (a Sunday); latent
  demand is also computed ``FUTURE_WEEKS`` past it, for forecasts, plans and open orders;
* every random draw comes from ``rng_for(seed, area)``: one numpy ``default_rng`` per area,
  so adding draws to one area does not reshuffle the others.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

HISTORY_WEEKS = 156  # three years of daily history
FUTURE_WEEKS = 22  # latent demand past end_date: 13-week horizon and 4 plan months fit in 22 weeks
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Size:
    """How big a demo data set is. Series = skus x stores daily POS series."""

    skus: int  # finished-good SKUs (sold in stores); components come on top
    stores: int
    dcs: int
    customers: int  # B2B customers
    suppliers: int
    employees: int
    inventory_weeks: int  # weekly inventory snapshots (Sundays) ending on end_date
    pos_chunk: int  # SKUs simulated per POS chunk (bounds memory)

    @property
    def series(self) -> int:
        return self.skus * self.stores


SIZES: dict[str, Size] = {
    "small": Size(skus=40, stores=5, dcs=1, customers=20, suppliers=5, employees=15, inventory_weeks=52, pos_chunk=40),
    "medium": Size(
        skus=400, stores=5, dcs=1, customers=60, suppliers=6, employees=25, inventory_weeks=52, pos_chunk=200
    ),
    "large": Size(
        skus=3000, stores=10, dcs=2, customers=200, suppliers=8, employees=40, inventory_weeks=26, pos_chunk=150
    ),
    # issue 15's scale probe: 100,000 SKU-store series, ~58M POS rows (~2.6 GB of CSV); 200 B2B
    # customers as at large (the name generator has 200 distinct names: 500 stopped `sop demo`)
    "xlarge": Size(
        skus=10_000, stores=10, dcs=3, customers=200, suppliers=10, employees=60, inventory_weeks=26, pos_chunk=150
    ),
}


def rng_for(seed: int, area: str) -> np.random.Generator:
    """A numpy Generator for one area of the generator (stable: crc32 of the name, not hash())."""
    return np.random.default_rng([int(seed), zlib.crc32(area.encode("utf-8"))])


@dataclass(frozen=True)
class Calendar:
    """Day/week arithmetic for a history of ``weeks`` ISO weeks ending on Sunday ``end``."""

    end: date
    weeks: int = HISTORY_WEEKS
    future_weeks: int = FUTURE_WEEKS

    def __post_init__(self) -> None:
        if self.end.weekday() != 6:
            raise ValueError(
                f"end_date must be a Sunday (history ends on a full ISO week), got {self.end} "
                f"({self.end.strftime('%A')})"
            )

    @property
    def start(self) -> date:
        """First history day (a Monday)."""
        return self.end - timedelta(days=7 * self.weeks - 1)

    @property
    def n_days(self) -> int:
        return 7 * self.weeks

    @property
    def ext_weeks(self) -> int:
        return self.weeks + self.future_weeks

    @property
    def ext_days(self) -> int:
        return 7 * self.ext_weeks

    @property
    def start64(self) -> np.datetime64:
        return np.datetime64(self.start, "D")

    @property
    def end64(self) -> np.datetime64:
        return np.datetime64(self.end, "D")

    @property
    def epoch0(self) -> int:
        """Days from 1970-01-01 to the first history day (date32 offset)."""
        return (self.start - EPOCH).days

    def dates(self, day_idx) -> np.ndarray:
        """datetime64[D] for day indices (any integer array)."""
        return self.start64 + np.asarray(day_idx).astype("timedelta64[D]")

    def week_start(self, week_idx) -> np.ndarray:
        """Monday (datetime64[D]) of week indices."""
        return self.dates(7 * np.asarray(week_idx))

    def day_index(self, dates) -> np.ndarray:
        """Day indices of datetime64 dates (inverse of ``dates``)."""
        return (np.asarray(dates).astype("datetime64[D]") - self.start64).astype(np.int64)

    def day_of_year(self, n_days: int) -> np.ndarray:
        """Day of year (1..366) for day indices 0..n_days-1."""
        d = self.dates(np.arange(n_days))
        return (d - d.astype("datetime64[Y]")).astype(np.int64) + 1

    def month_index(self, n_days: int) -> np.ndarray:
        """Months since 1970-01 for day indices 0..n_days-1."""
        return self.dates(np.arange(n_days)).astype("datetime64[M]").astype(np.int64)


def weekly(x: np.ndarray) -> np.ndarray:
    """Sum a (..., days) array into (..., days // 7) weeks."""
    return x.reshape(*x.shape[:-1], x.shape[-1] // 7, 7).sum(-1)


def expand_ranges(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand [start, start+length) ranges: returns (row index, value) pairs, vectorized."""
    lengths = np.maximum(np.asarray(lengths, dtype=np.int64), 0)
    row = np.repeat(np.arange(len(lengths)), lengths)
    offset = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return row, np.asarray(starts, dtype=np.int64)[row] + offset


def stable_uniform(*keys: np.ndarray, salt: int = 0) -> np.ndarray:
    """A deterministic U[0,1) per key tuple (for attributes that must persist across snapshots)."""
    h = np.full(np.broadcast(*keys).shape, (salt * 0x9E3779B1 + 0x85EBCA6B) & 0xFFFFFFFF, dtype=np.uint64)
    for k in keys:
        h = (h ^ (np.asarray(k).astype(np.uint64) & np.uint64(0xFFFFFFFF))) * np.uint64(0x9E3779B1)
        h = (h ^ (h >> np.uint64(15))) & np.uint64(0xFFFFFFFF)
        h = (h * np.uint64(0x85EBCA6B)) & np.uint64(0xFFFFFFFF)
        h = h ^ (h >> np.uint64(13))
    return (h & np.uint64(0xFFFFFFFF)).astype(np.float64) / 2.0**32


def round_money(x) -> np.ndarray:
    """Round to cents."""
    return np.round(np.asarray(x, dtype=np.float64), 2)
