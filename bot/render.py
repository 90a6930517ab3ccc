"""Plain-text rendering of answers and lists, for the terminal and `--json`-less CLI output."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from sectorbot.bot.i18n import N_, _, language
from sectorbot.index.answer import NEWEST_NOTICE, STALE_NOTICE, Answer, Source

if TYPE_CHECKING:
    from sectorbot.bot.service import DocumentRow

REFUSAL = N_(
    "I don't know: the reports I have don't cover that. "
    "Try rephrasing, or see which reports I have with /sources."
)


def source_line(s: Source) -> str:
    parts = [s.title or "(untitled)", s.publisher or "unknown publisher", s.date or "undated"]
    return f"[{s.n}] " + " — ".join(parts) + (f"\n    {s.url}" if s.url else "")


# Marked for translation: Telegram shows them in the chat's language (bot/telegram/render.py).
DIGEST_LEAD = N_("The newest reports on this place, newest first:")
TYPE_MISSING_LEAD = N_("None of these reports states that exactly; the closest they come:")
TIME_MISSING_LEAD = N_("The reports I have don't say that for {when}. What they do say:")


# Said when every quoted sentence is in another language than the question (no offline
# translation exists): the sentences stay as their report wrote them.
QUOTED_IN = {
    "uk": N_("Quoted as written: the report is in Ukrainian."),
    "ru": N_("Quoted as written: the report is in Russian."),
    "en": N_("Quoted as written: the report is in English."),
}


# The index words its notices in English (for --json); each is recognised here by its
# English form and said again in the reader's language.
_NOTICES = [
    (re.compile("^" + re.escape(english).replace(r"\{cited\}", r"(?P<cited>\S+)")
                .replace(r"\{held\}", r"(?P<held>\S+)") + "$"), message)
    for english, message in [
        (STALE_NOTICE, N_("The newest report cited here is from {cited}; "
                          "the newest I have is from {held}.")),
        (NEWEST_NOTICE, N_("The newest report cited here is from {cited}.")),
    ]
]  # fmt: skip


def notice_line(answer: Answer) -> str | None:
    """The answer's notice in the current language (unknown wording stays as it is)."""
    if not answer.notice:
        return None
    for pattern, message in _NOTICES:
        if found := pattern.match(answer.notice):
            return _(message).format(**found.groupdict())
    return answer.notice


def cites(numbers: Iterable[int], sources: Sequence[Source]) -> str:
    """Citation marks with each report's date, "[1, 2024-09-05]", so an old figure is not
    read as today's; an undated report shows its number alone."""
    dates = {s.n: s.date for s in sources}
    return "".join(f"[{n}, {dates[n]}]" if dates.get(n) else f"[{n}]" for n in numbers)


def quoted_note(answer: Answer) -> str | None:
    """A message id saying which language the quoted report is in, when it is not the
    reader's."""
    return QUOTED_IN.get(answer.quoted_in or "")


def lead_line(answer: Answer) -> str | None:
    """A line before the sentences: a place digest, a refusal for the time the question
    names, or an answer without the asked fact. A message id: front ends translate it,
    then fill in {when}."""
    if answer.digest:
        return DIGEST_LEAD
    if answer.time_missing:
        return TIME_MISSING_LEAD
    return TYPE_MISSING_LEAD if answer.type_missing else None


def near_miss(answer: Answer) -> bool:
    """A refusal for the named time that still shows what the reports say of other times."""
    return not answer.answered and bool(answer.time_missing and answer.sentences)


def render_text(answer: Answer) -> str:
    """The answer for the terminal: its own lines in the question's language."""
    with language(answer.language):
        return _render_text(answer)


def _render_text(answer: Answer) -> str:
    if not answer.answered and not near_miss(answer):
        return _(REFUSAL)
    lead = lead_line(answer)
    lines = [_(lead).format(when=answer.time_missing)] if lead else []
    if answer.disagreement:
        lines.append("Sources disagree:")
    for sentence in answer.sentences:
        marks = cites(sentence.citations, answer.sources)
        label = {"claim": "Claim: ", "denial": "Denial: "}.get(sentence.stance, "")
        lines.append(f"- {label}{sentence.text} {marks}")
    if notice := notice_line(answer):
        lines.append(notice)
    if note := quoted_note(answer):
        lines.append(_(note))
    lines.extend(answer.trend_lines)
    lines.append("")
    lines.append(_("Sources") + ":")
    lines.extend(source_line(s) for s in answer.sources)
    return "\n".join(lines)


def render_documents(rows: Iterable[DocumentRow]) -> str:
    """A list of reports, two lines each: date, publisher and title, then the link."""
    lines = []
    for row in rows:
        date = (row.published or "undated")[:10]
        lines.append(f"{date}  {row.source or '?'} — {row.title or '(untitled)'}")
        if row.url:
            lines.append(f"            {row.url}")
    return "\n".join(lines) or "No reports."
