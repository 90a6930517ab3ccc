"""A series in words: the photo's caption, its source list, the terminal's table, and the
one line that answers and digests carry. Captions are Telegram HTML (everything a report
wrote goes through `markup.escape`); the rest is plain text."""

from __future__ import annotations

from datetime import date

from sectorbot.bot.i18n import _, current
from sectorbot.bot.markup import escape, visible_length
from sectorbot.bot.trend.chart import counted_label, day_label, title
from sectorbot.bot.trend.series import Point, Trend

CAPTION_LIMIT = 1024  # Telegram's limit for a photo's caption, in UTF-16 code units


def _when(point: Point) -> str:
    """ "whole day", "as of 16:00", "evening summary" or nothing."""
    if point.as_of == "day":
        return _("whole day")
    if point.as_of == "evening":
        return _("evening summary")
    if point.as_of == "partial":
        return _("running total")
    if point.as_of:
        return _("as of {time}").format(time=point.as_of)
    return ""


def _full_day(day: str) -> str:
    sep = " " if current() == "en" else "."
    return f"{day_label(day)}{sep}{date.fromisoformat(day).year}"


def latest_line(trend: Trend) -> str | None:
    """The newest count in words: "Latest: 59 attacks on 27 Nov 2025 (whole day)"."""
    point = trend.latest
    if point is None:
        return None
    when = _when(point)
    line = _("Latest: {count} {counted} on {day}").format(
        count=point.count, counted=counted_label(point.counted), day=_full_day(point.day)
    )
    return f"{line} ({when})" if when else line


def change_line(trend: Trend) -> str | None:
    """The last seven days against the seven before, in words."""
    change = trend.week_change()
    if change is None:
        return None
    if change.percent > 0:
        how = _("up {percent}% on the week before ({before:.0f})")
    elif change.percent < 0:
        how = _("down {percent}% on the week before ({before:.0f})")
    else:
        how = _("the same as the week before ({before:.0f})")
    moved = how.format(percent=abs(change.percent), before=change.last_week)
    return _("Last 7 days: {average:.0f} a day on average, {change}.").format(
        average=change.this_week, change=moved
    )


def summary_line(trend: Trend) -> str | None:
    """One plain line for answers and digests: direction, latest count, the week's change."""
    latest = latest_line(trend)
    if latest is None:
        return None
    head = _("{direction} direction").format(direction=trend.direction.name(current()))
    parts = [latest, change_line(trend) or ""]
    said = "; ".join(p[0].lower() + p[1:].rstrip(".") for p in parts if p)
    return f"📈 {head}: {said}."


def _source_html(point: Point) -> str:
    name = escape(point.source or point.title or _("(untitled)"))
    label = f'<a href="{escape(point.url)}">{name}</a>' if point.url else name
    return f"{label}, {escape(day_label(point.day))}"


def sources_html(trend: Trend) -> str:
    """Every report the series comes from, one a line."""
    lines = [f"<b>{escape(_('Sources'))}</b>"]
    lines += [f"{i}. {_source_html(p)}" for i, p in enumerate(trend.sources(), 1)]
    return "\n".join(lines)


def caption_html(trend: Trend) -> tuple[str, str | None]:
    """The photo's caption, and the source list as a message of its own when it does not
    fit the caption's 1,024 characters (None when it does)."""
    first, last = _full_day(trend.first), _full_day(trend.last)
    head = [f"<b>{escape(title(trend))}</b>", escape(f"{first} – {last}")]
    for line in (latest_line(trend), change_line(trend)):
        if line:
            head.append(escape(line))
    whole = "\n".join([*head, "", sources_html(trend)])
    if visible_length(whole) <= CAPTION_LIMIT:
        return whole, None
    head.append(escape(_("Sources in the next message.")))
    return "\n".join(head), sources_html(trend)


def table(trend: Trend) -> str:
    """The series as a plain table for the terminal, gaps shown as "–"."""
    by_day = {p.day: p for p in trend.points}
    lines = [title(trend), ""]
    for day in trend.days():
        point = by_day.get(day)
        if point is None:
            lines.append(f"{day}  {'–':>5}")
            continue
        when = _when(point)
        note = f"  ({when})" if when else ""
        lines.append(f"{day}  {point.count:>5}  {point.source}{note}")
    for line in (latest_line(trend), change_line(trend)):
        if line:
            lines.append(line)
    return "\n".join(lines)


def as_json(trend: Trend) -> dict[str, object]:
    """The series as `trend --json` prints it."""
    return {
        "direction": trend.direction.id,
        "first": trend.first,
        "last": trend.last,
        "points": [
            {
                "date": p.day, "count": p.count, "counted": p.counted, "as_of": p.as_of,
                "source": p.source, "url": p.url, "title": p.title, "quote": p.quote,
                "superseded": list(p.superseded),
            }
            for p in trend.points
        ],
    }  # fmt: skip
