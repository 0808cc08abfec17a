"""The cycle calendar: ISO weeks (Monday start) and the 13-week horizon.

KPI_DEFINITIONS.md: horizon week 1 is the first full ISO week after the as-of date. As-of on
a Sunday makes week 1 start the next day; as-of on any other day (Monday included) makes
week 1 start the next Monday, and the current partial week is week 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

HORIZON_WEEKS = 13


def week_start(day: date) -> date:
    """Monday of the ISO week holding `day`."""
    return day - timedelta(days=day.weekday())


def first_horizon_week(as_of: date) -> date:
    """Monday that starts horizon week 1."""
    return as_of + timedelta(days=7 - as_of.weekday())


@dataclass(frozen=True)
class Cycle:
    as_of: date
    horizon_weeks: int = HORIZON_WEEKS

    @property
    def week0_start(self) -> date:
        return week_start(self.as_of)

    @property
    def week1_start(self) -> date:
        return first_horizon_week(self.as_of)

    @property
    def horizon_end(self) -> date:
        """Last day (Sunday) of the horizon."""
        return self.week1_start + timedelta(weeks=self.horizon_weeks, days=-1)

    def horizon(self) -> list[date]:
        """Mondays of horizon weeks 1..N."""
        return [self.week1_start + timedelta(weeks=k) for k in range(self.horizon_weeks)]

    def horizon_week(self, monday: date) -> int:
        """Horizon week number of a Monday (0 = the current partial week)."""
        return (monday - self.week1_start).days // 7 + 1
