"""A direction's daily series from the stored figures: one count a day, the most final.

Several reports may give a count for the same day: running totals through the day ("as of
16:00"), the evening summary, the next morning's count for the whole day. The day's point is
the most final of them; ties go to the later report. Days no report counts are gaps, never
zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import mean

from sectorbot.corpus.figure_store import FigureRow
from sectorbot.index.directions import Direction

DEFAULT_DAYS = 30
MAX_DAYS = 366
WEEK = 7
# How final each kind of `as_of` is; a time of day counts as its minutes.
_FINAL = {"day": 24 * 60 + 1, "": 24 * 60, "evening": 22 * 60, "partial": 0}


@dataclass(frozen=True)
class Point:
    """One day's count, from one report."""

    day: str
    count: int
    counted: str  # "attacks" or "clashes"
    as_of: str  # see corpus.models.Figure
    source: str
    url: str | None
    title: str
    published: str | None
    quote: str
    superseded: tuple[int, ...] = ()  # earlier running totals for the day, oldest first

    @property
    def running(self) -> bool:
        """Whether the count is a running total (no whole-day figure came after it)."""
        return _final(self.as_of) < 22 * 60


@dataclass(frozen=True)
class WeekChange:
    """The average a day over the last seven days against the seven before."""

    this_week: float
    last_week: float
    days: int  # days with a count in the last seven

    @property
    def percent(self) -> int:
        return round((self.this_week - self.last_week) / self.last_week * 100)


@dataclass(frozen=True)
class Trend:
    direction: Direction
    first: str  # the window, ISO days, inclusive
    last: str
    points: list[Point] = field(default_factory=list)

    @property
    def latest(self) -> Point | None:
        return self.points[-1] if self.points else None

    @property
    def counted(self) -> str:
        """ "attacks", "clashes", or "mixed" when reports counted both."""
        kinds = {p.counted for p in self.points}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def days(self) -> list[str]:
        """Every day of the window, gaps included."""
        start, end = date.fromisoformat(self.first), date.fromisoformat(self.last)
        return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]

    def week_change(self) -> WeekChange | None:
        """The last seven days against the seven before, when both have counts."""
        if not self.points:
            return None
        end = date.fromisoformat(self.last)
        this = [p.count for p in self.points if _days_before(end, p.day) < WEEK]
        last = [p.count for p in self.points if WEEK <= _days_before(end, p.day) < 2 * WEEK]
        if not this or not last or not mean(last):
            return None
        return WeekChange(mean(this), mean(last), len(this))

    def sources(self) -> list[Point]:
        """One point per report, in day order: the sources a caption lists."""
        seen: dict[tuple[str, str | None], Point] = {}
        for p in self.points:
            seen.setdefault((p.source, p.url), p)
        return list(seen.values())


def window(last_day: str | None, days: int) -> tuple[str, str] | None:
    """The `days` days up to `last_day` (inclusive); None without a day."""
    if last_day is None:
        return None
    end = date.fromisoformat(last_day)
    return (end - timedelta(days=days - 1)).isoformat(), end.isoformat()


def build(direction: Direction, first: str, last: str, rows: list[FigureRow]) -> Trend:
    """The series of a window from its stored figures: each day's most final count."""
    by_day: dict[str, list[FigureRow]] = {}
    for row in rows:
        by_day.setdefault(row.day, []).append(row)
    points = [_point(sorted(day_rows, key=_rank)) for _, day_rows in sorted(by_day.items())]
    return Trend(direction, first, last, points)


def _rank(row: FigureRow) -> tuple[int, str, int]:
    return _final(row.as_of), row.published or "", row.document_id


def _final(as_of: str) -> int:
    if as_of in _FINAL:
        return _FINAL[as_of]
    hours, _, minutes = as_of.partition(":")
    return int(hours) * 60 + int(minutes or 0) if hours.isdigit() else 0


def _point(rows: list[FigureRow]) -> Point:
    best = rows[-1]
    earlier = tuple(r.count for r in rows[:-1] if _final(r.as_of) < _final(best.as_of))
    return Point(
        day=best.day, count=best.count, counted=best.counted, as_of=best.as_of,
        source=best.source, url=best.url, title=best.title, published=best.published,
        quote=best.quote, superseded=earlier,
    )  # fmt: skip


def _days_before(end: date, day: str) -> int:
    return (end - date.fromisoformat(day)).days
