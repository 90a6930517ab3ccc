"""The chart of a direction's series: a bar a day, gaps where no report counted.

matplotlib is imported only here, and only when a chart is drawn, so `--help` and answers do
not pay for it; its object API with the Agg canvas needs no display and keeps no global state
between charts. 1,200 × 675 pixels with large type reads on a phone screen.
"""

from __future__ import annotations

import io
import logging
from datetime import date

from sectorbot.bot.i18n import _, current
from sectorbot.bot.trend.series import Trend

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.5, 150
BAR = "#c0392b"
RUNNING = "#e6a49c"  # a running total: the day had no whole-day count yet
GRID = "#dddddd"
GAP = "#999999"  # a day no report counted: a mark on the axis, not a zero bar
_MONTHS_EN = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def counted_label(counted: str) -> str:
    if counted == "attacks":
        return _("attacks")
    if counted == "clashes":
        return _("combat clashes")
    return _("attacks and clashes")


def title(trend: Trend) -> str:
    name = trend.direction.name(current())
    return _("{direction} direction: {counted} per day").format(
        direction=name, counted=counted_label(trend.counted)
    )


def day_label(day: str) -> str:
    d = date.fromisoformat(day)
    return (
        f"{d.day} {_MONTHS_EN[d.month - 1]}" if current() == "en" else f"{d.day:02d}.{d.month:02d}"
    )


def draw(trend: Trend) -> bytes:
    """The series as a PNG, labelled in the current language."""
    from matplotlib.figure import Figure  # heavy: only when a chart is drawn

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # its font cache notes

    days = trend.days()
    by_day = {p.day: p for p in trend.points}
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    axes = figure.subplots()
    xs = [i for i, d in enumerate(days) if d in by_day]
    counts = [by_day[days[i]].count for i in xs]
    colours = [RUNNING if by_day[days[i]].running else BAR for i in xs]
    bars = axes.bar(xs, counts, color=colours, width=0.8)
    if len(days) <= 31:
        axes.bar_label(bars, fontsize=9)
    step = max(1, len(days) // 10)
    axes.set_xticks(range(0, len(days), step), [day_label(d) for d in days[::step]], fontsize=10)
    axes.set_xlim(-0.6, len(days) - 0.4)
    axes.set_ylim(0, max(counts, default=1) * 1.15 + 1)
    axes.tick_params(axis="y", labelsize=10)
    axes.grid(axis="y", color=GRID)
    axes.set_axisbelow(True)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_title(title(trend), fontsize=14, loc="left")
    gaps = [i for i, d in enumerate(days) if d not in by_day]
    axes.plot(gaps, [0] * len(gaps), linestyle="none", marker="x", markersize=5, color=GAP)
    axes.set_xlabel(_footnote(trend, len(xs), len(days)), fontsize=9, color="#555555", loc="left")
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def _footnote(trend: Trend, counted_days: int, all_days: int) -> str:
    note = _("{counted} of {days} days with a count; x: no report; pale: a running total.")
    sources = len(trend.sources())
    return (
        note.format(counted=counted_days, days=all_days)
        + " "
        + _("Sources: {n} reports.").format(n=sources)
    )
