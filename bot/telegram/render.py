"""Answers, lists and reports as Telegram HTML.

Every piece of text that came from the corpus or from a user goes through `escape` (see
`sectorbot.bot.markup`), and every link through `safe_url`, so nothing a report or a user
writes can become markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sectorbot.bot.i18n import N_, _, current
from sectorbot.bot.markup import bold, escape, shorten
from sectorbot.bot.render import REFUSAL, cites, lead_line, near_miss, notice_line, quoted_note
from sectorbot.index.answer import Answer, Source
from sectorbot.index.claims import ClaimCheck

if TYPE_CHECKING:
    from sectorbot.bot.service import About, DocumentRow, Stats

TITLE_SHORT = 90
EXCERPT = 600
STANCE_LABELS = {"claim": N_("Claim"), "denial": N_("Denial")}


def safe_url(url: str | None) -> str | None:
    """The URL when it is a well-formed http(s) link with a host, else None."""
    if not url or len(url) > 2000 or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return url


def link(url: str | None, label: str) -> str:
    """`label` (already HTML) as a link, or left plain when the URL is not safe to link."""
    href = safe_url(url)
    return f'<a href="{escape(href)}">{label}</a>' if href else label


def domain(url: str | None) -> str | None:
    """The host a link goes to, without "www.", to show beside a linked title."""
    href = safe_url(url)
    if not href:
        return None
    host = (urlsplit(href).hostname or "").lower()
    return host.removeprefix("www.") or None


def source_link(url: str | None, title: str, limit: int = TITLE_SHORT) -> str:
    """A source as one short line: the title linked, then its domain (not the whole URL)."""
    label = link(url, escape(shorten(title or _("(untitled)"), limit)))
    site = domain(url)
    return f"{label} ({escape(site)})" if site else label


def _byline(publisher: str | None, date: str | None) -> str:
    return f"{escape(publisher or _('unknown publisher'))}, {escape(date or _('undated'))}"


# --------------------------------------------------------------------------------- answers


def render_refusal() -> str:
    return escape(_(REFUSAL)) + "\n" + _("Example: /sources Myrnohrad")


def render_answer(answer: Answer) -> str:
    """The answer with inline citations and a compact source list."""
    if not answer.answered and not near_miss(answer):
        return render_refusal()
    lead = lead_line(answer)
    lines = [f"<i>{escape(_(lead).format(when=answer.time_missing))}</i>"] if lead else []
    if answer.disagreement:
        head = _("Sources disagree.")
        lines += [f"<b>{head}</b> " + _("Both sides are quoted, each with its source."), ""]
    for sentence in answer.sentences:
        label = STANCE_LABELS.get(sentence.stance)
        prefix = bold(_(label) + ":") + " " if label else ""
        marks = escape(cites(sentence.citations, answer.sources))
        lines.append(f"• {prefix}{escape(sentence.text)} {marks}")
    if notice := notice_line(answer):
        lines += ["", f"<i>{escape(notice)}</i>"]
    if note := quoted_note(answer):
        lines += ["", f"<i>{escape(_(note))}</i>"]
    if answer.trend_lines:  # a place's direction: its latest daily count (see /trend)
        lines += ["", *(escape(line) for line in answer.trend_lines)]
    lines += ["", bold(_("Sources"))]
    for s in answer.sources:
        lines.append(f"[{s.n}] {_byline(s.publisher, s.date)} — {source_link(s.url, s.title)}")
    return "\n".join(lines)


def render_source_entry(s: Source) -> str:
    """One source in full: the linked title, its domain, publisher and date."""
    title = f"<b>{escape(shorten(s.title or _('(untitled)'), 300))}</b>"
    site = domain(s.url)
    # The bold title is the link; the domain says where it goes without the whole URL.
    head = f"[{s.n}] {link(s.url, title)}" + (f" ({escape(site)})" if site else "")
    return "\n".join([head, _byline(s.publisher, s.date)])


def render_sources(answer: Answer) -> str:
    """The "Sources" button: every cited report in full, then the runners-up."""
    parts = [bold(_("Sources for this answer"))]
    parts += [render_source_entry(s) for s in answer.sources]
    if answer.more:
        parts.append(bold(_("Also relevant")))
        parts += [render_source_entry(s) for s in answer.more]
    if len(parts) == 1:
        parts.append(_("No sources."))
    return "\n\n".join(parts)


def render_more(answer: Answer, passages: Mapping[int, str]) -> str:
    """The "More" button: the next best passages (chunk id -> text), each with its report."""
    if not answer.more:
        return _("No further passages for this question.")
    parts = [bold(_("More passages"))]
    for s in answer.more:
        head = f"[{s.n}] {source_link(s.url, s.title)} — {_byline(s.publisher, s.date)}"
        text = passages.get(s.chunk_id)
        parts.append(head + (f"\n{escape(shorten(text, EXCERPT))}" if text else ""))
    return "\n\n".join(parts)


SIDE_HEADINGS = {
    "supports": N_("Supports it"),
    "contradicts": N_("Contradicts it"),
    "related": N_("Also reported"),
}


def _month_name(month: str) -> str:
    """ "November 2025" in the current language ("листопад 2025 р.")."""
    from babel.dates import format_date

    return format_date(datetime.strptime(month, "%B %Y"), "LLLL y", locale=current())


def render_claim_check(check: ClaimCheck) -> str:
    """A forwarded post checked against the reports: each side with its sources, or none."""
    claim = check.claim
    checked = _("Checked: “{sentence}”").format(sentence=escape(shorten(claim.key_sentence, 300)))
    lines = [bold(_("What my reports say about this")), f"<i>{checked}</i>"]
    if claim.places:
        lines.append(_("Places: {places}").format(places=escape(", ".join(claim.places))))
    if claim.months:
        months = ", ".join(_month_name(m) for m in claim.months)
        lines.append(_("Dates: {months}").format(months=escape(months)))
    if not check.answer.answered:
        return "\n".join([*lines, "", _("No report I have covers this.")])
    for side, heading in SIDE_HEADINGS.items():
        quoted = [s for s, judged in check.sides if judged == side]
        if quoted:
            lines += ["", bold(_(heading))]
            marks = [escape(cites(s.citations, check.answer.sources)) for s in quoted]
            lines += [f"• {escape(s.text)} {m}" for s, m in zip(quoted, marks, strict=True)]
    lines += ["", bold(_("Sources"))]
    for s in check.answer.sources:
        lines.append(f"[{s.n}] {_byline(s.publisher, s.date)} — {source_link(s.url, s.title)}")
    lines += [
        "",
        "<i>"
        + _("Supports or contradicts: whether a report asserts or denies what the post says.")
        + "</i>",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------- lists


def render_documents(rows: Iterable[DocumentRow], heading: str) -> str:
    """A list of reports (/sources, /latest): date, publisher and a linked title each."""
    lines = [f"<b>{escape(heading)}</b>", ""]
    seen: set[int] = set()
    for row in rows:
        if row.id in seen:
            continue
        seen.add(row.id)
        date = escape((row.published or _("undated"))[:10])
        source = escape(row.source or _("unknown publisher"))
        lines.append(f"• {date} · {source} — {source_link(row.url, row.title)}")
    if not seen:
        lines.append(_("No reports found."))
    return "\n".join(lines)


def _value(value: Any) -> str:
    return escape("—" if value in (None, "") else value)


def render_about(info: About) -> str:
    """/about: how much the bot knows, from when to when, and how fresh its index is."""
    first = str(info.first_published or "")[:10] or None
    last = str(info.last_published or "")[:10] or None
    return "\n".join(
        [
            bold(_("About this bot")),
            _(
                "I answer questions about the Pokrovsk sector by quoting the reports I hold, "
                "each sentence with its source. I never make things up: if the reports don't "
                "say it, I say so."
            ),
            "",
            _("Reports: {documents} ({passages} passages)").format(
                documents=_value(info.documents), passages=_value(info.passages)
            ),
            _("Published: {first} to {last}").format(first=_value(first), last=_value(last)),
            _("Feeds followed: {feeds}").format(feeds=_value(info.feeds)),
            _("Last ingest: {when}").format(when=_value(info.last_ingest)),
            _("Index: {passages} passages, built {built} ({kind})").format(
                passages=_value(info.index_passages),
                built=_value(info.index_built),
                kind=_value(info.index_kind),
            ),
            _("Model: {model}").format(model=_value(info.model)),
        ]
    )


def render_stats(stats: Stats, bot: Mapping[str, Any] | None = None) -> str:
    """/stats for admins: every number the service and the bot keep, one per line."""
    lines = [bold(_("Statistics"))]
    for key, value in [*asdict(stats).items(), *(bot or {}).items()]:
        lines.append(f"{escape(key.replace('_', ' '))}: {_value(value)}")
    return "\n".join(lines)


def render_feeds(feeds: Sequence[Mapping[str, Any]]) -> str:
    if not feeds:
        return _("No feeds yet. Add one with /addfeed &lt;url&gt;.")
    lines = [bold(_("Feeds")), ""]
    for f in feeds:
        health = _("ok") if not f.get("failures") else _("{n} failures").format(n=f["failures"])
        polled = f.get("last_polled") or _("never polled")
        lines.append(f"#{f['id']} {link(f.get('url'), escape(shorten(f.get('url') or '', 120)))}")
        lines.append(f"    {escape(polled)}, {escape(health)}")
        if f.get("last_error"):
            error = escape(shorten(f["last_error"], 200))
            lines.append("    " + _("last error: {error}").format(error=error))
    lines += ["", _("Remove one with /removefeed &lt;id&gt;.")]
    return "\n".join(lines)


def render_ingest(report: Any, reindexed: Any | None) -> str:
    """/ingest: what happened to each URL, and what the index gained."""
    lines = [
        bold(_("Ingest finished")),
        _("added {added}, updated {updated}, unchanged {unchanged}, failed {failed}").format(
            added=len(report.added),
            updated=len(report.updated),
            unchanged=len(report.unchanged),
            failed=len(report.failed),
        ),
    ]
    for item in report.failed[:20]:
        lines.append(f"• {escape(shorten(item.ref, 120))}: {escape(shorten(item.reason, 300))}")
    if len(report.failed) > 20:
        lines.append(_("… and {n} more failures").format(n=len(report.failed) - 20))
    if reindexed is not None:
        text = _("Index: +{added} −{removed} passages, {total} in all ({seconds} s)")
        lines.append(
            text.format(
                added=reindexed.added,
                removed=reindexed.removed,
                total=reindexed.total,
                seconds=f"{reindexed.seconds:.1f}",
            )
        )
    return "\n".join(lines)
