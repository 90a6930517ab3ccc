"""One way to read the many date formats that sources use, and one way to write them.

Every date a source gives is kept as `YYYY-MM-DD` (the source gave only a day) or
`YYYY-MM-DDTHH:MM:SS` in UTC without an offset, so that plain string comparison sorts them.
The store's own bookkeeping times (fetched, updated, polled, queued, sent) are `stamp()`s:
`YYYY-MM-DDTHH:MM:SS.mmm` in UTC, one format in every table.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

MIN_YEAR = 1990
MAX_YEAR = 2100

# A bare run of 9+ digits (optionally with a fraction) is a unix timestamp, as in Telegram's
# `date_unixtime`; 8 digits stay an ISO basic date (20240819).
_TIMESTAMP_RE = re.compile(r"^\d{9,}(\.\d+)?$")
_DATE_ONLY_RE = re.compile(r"^\d{4}-?\d{2}-?\d{2}$")


def parse_date(value: str | int | float | None) -> str | None:
    """Return `value` as a normalised ISO date or UTC datetime; None for no value.

    Raises ValueError("invalid date '...'") for anything unreadable or outside 1990-2100.
    """
    if value is None:
        return None
    # bool is an int subclass, but True is never a date.
    if isinstance(value, bool):
        raise _invalid(value)
    if isinstance(value, int | float):
        return _from_timestamp(value, value)
    if not isinstance(value, str):  # a JSON object or list where a date belongs
        raise _invalid(value)
    text = value.strip()
    if not text:
        return None
    if _TIMESTAMP_RE.match(text):
        return _from_timestamp(float(text), value)
    if _DATE_ONLY_RE.match(text):
        return _checked_date(_iso_date(text, value), value)
    return _format_datetime(_parse_datetime(text, value), value)


_SHOWN_CHARS = 60  # of a bad value in the error: enough to recognise it, still one line


def _invalid(value: object) -> ValueError:
    shown = " ".join(str(value).split())
    if len(shown) > _SHOWN_CHARS:
        shown = shown[: _SHOWN_CHARS - 1] + "…"
    return ValueError(f"invalid date '{shown}'")


def _from_timestamp(seconds: float, original: object) -> str:
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise _invalid(original) from None
    return _format_datetime(moment, original)


def _iso_date(text: str, original: object) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _invalid(original) from None


def _parse_datetime(text: str, original: object) -> datetime:
    """ISO 8601 first (most sources), then RFC 2822 (RSS `pubDate`)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise _invalid(original) from None


def _checked_date(day: date, original: object) -> str:
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise _invalid(original)
    return day.isoformat()


def _format_datetime(moment: datetime, original: object) -> str:
    # A naive datetime is taken to be UTC already: sources without an offset rarely say more.
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    _checked_date(moment.date(), original)
    return moment.replace(microsecond=0).isoformat()


def stamp(seconds: float | None = None) -> str:
    """A UTC time as the store keeps its bookkeeping times: sortable text, milliseconds."""
    moment = datetime.fromtimestamp(time.time() if seconds is None else seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def parse_stamp(text: str) -> float:
    """Seconds since the epoch of a stored time (a `stamp`, or a day or second before it)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
