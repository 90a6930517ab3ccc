"""Answers, lists and reports as Telegram HTML, and long messages split to Telegram's limit.

Every piece of text that came from the corpus or from a user goes through `escape`, and every
link through `safe_url`, so nothing a report or a user writes can become markup. The markup
we add ourselves is always opened and closed on the same line; `split_message` relies on
that only for neatness: it closes and reopens tags if it ever has to cut inside one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sectorbot.bot.claims import ClaimCheck
from sectorbot.bot.i18n import N_, _, current
from sectorbot.bot.render import REFUSAL, lead_line, near_miss, quoted_note
from sectorbot.corpus.text import without_surrogates
from sectorbot.index.answer import Answer, Source

MAX_MESSAGE = 4096  # Telegram's limit, in UTF-16 code units of the text as shown
TITLE_SHORT = 90
EXCERPT = 600
STANCE_LABELS = {"claim": N_("Claim"), "denial": N_("Denial")}
# The index words its one notice in English; this recognises it to say it in the chat's language.
_NEWEST_NOTICE = re.compile(r"^The newest report cited here is from (\S+)\.$")

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def bold(html: str) -> str:
    """`html` in bold (kept out of f-strings so that message extraction sees `_()` calls)."""
    return f"<b>{html}</b>"


def escape(text: object) -> str:
    """Text for Telegram HTML: the four characters Telegram knows an entity for, escaped."""
    return without_surrogates(str(text)).translate(_ESCAPES)


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, cut at a word where possible."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + "…"


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


def _cites(numbers: Iterable[int]) -> str:
    return "".join(f"[{n}]" for n in numbers)


def _byline(publisher: str | None, date: str | None) -> str:
    return f"{escape(publisher or _('unknown publisher'))}, {escape(date or _('undated'))}"


def _notice(text: str) -> str:
    found = _NEWEST_NOTICE.match(text)
    if found:
        return _("The newest report cited here is from {date}.").format(date=found.group(1))
    return text


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
        lines.append(f"• {prefix}{escape(sentence.text)} {_cites(sentence.citations)}")
    if answer.notice:
        lines += ["", f"<i>{escape(_notice(answer.notice))}</i>"]
    if note := quoted_note(answer):
        lines += ["", f"<i>{escape(_(note))}</i>"]
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
            lines += [f"• {escape(s.text)} {_cites(s.citations)}" for s in quoted]
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


def render_documents(rows: Iterable[Mapping[str, Any]], heading: str) -> str:
    """A list of reports (/sources, /latest): date, publisher and a linked title each."""
    lines = [f"<b>{escape(heading)}</b>", ""]
    seen: set[Any] = set()
    for row in rows:
        key = row.get("id") or (row.get("url"), row.get("title"))
        if key in seen:
            continue
        seen.add(key)
        date = escape((row.get("published") or _("undated"))[:10])
        source = escape(row.get("source") or _("unknown publisher"))
        lines.append(f"• {date} · {source} — {source_link(row.get('url'), row.get('title'))}")
    if not seen:
        lines.append(_("No reports found."))
    return "\n".join(lines)


def _value(value: Any) -> str:
    return escape("—" if value in (None, "") else value)


def render_about(info: Mapping[str, Any]) -> str:
    """/about: how much the bot knows, from when to when, and how fresh its index is."""
    first = str(info.get("first_published") or "")[:10] or None
    last = str(info.get("last_published") or "")[:10] or None
    return "\n".join(
        [
            bold(_("About this bot")),
            _(
                "I answer questions about the Pokrovsk sector by quoting the reports I hold, "
                "each sentence with its source. I never make things up: if the reports don't "
                "say it, I say so."
            ),
            "",
            _("Reports: {documents} ({chunks} passages)").format(
                documents=_value(info.get("documents")), chunks=_value(info.get("chunks"))
            ),
            _("Published: {first} to {last}").format(first=_value(first), last=_value(last)),
            _("Feeds followed: {feeds}").format(feeds=_value(info.get("feeds"))),
            _("Last ingest: {when}").format(when=_value(info.get("last_ingest"))),
            _("Index: {passages} passages, built {built} ({kind})").format(
                passages=_value(info.get("index_passages")),
                built=_value(info.get("index_built")),
                kind=_value(info.get("index_kind")),
            ),
            _("Model: {model}").format(model=_value(info.get("model"))),
        ]
    )


def render_stats(stats: Mapping[str, Any], bot: Mapping[str, Any] | None = None) -> str:
    """/stats for admins: every number the service and the bot keep, one per line."""
    lines = [bold(_("Statistics"))]
    for key, value in [*stats.items(), *(bot or {}).items()]:
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


# --------------------------------------------------------------------------------- splitting

# One token: a tag, a character reference, or a single character.
_PIECE_RE = re.compile(r"<[^<>]*>|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]{2,8});|[\s\S]")
_NAMED = {"&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"'}
_TAG_NAME = re.compile(r"</?\s*([A-Za-z][\w-]*)")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts message length in."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _decode(token: str) -> str:
    if token.startswith("<"):
        return ""
    if len(token) > 1 and token.startswith("&"):
        if token in _NAMED:
            return _NAMED[token]
        body = token[2:-1]
        try:
            code = int(body[1:], 16) if body[:1] in "xX" else int(body)
            return chr(code)
        except (ValueError, OverflowError):
            return token
    return token


def visible_length(html_text: str) -> int:
    """How long Telegram will consider this HTML: tags dropped, entities decoded."""
    return sum(utf16_len(_decode(t)) for t in _PIECE_RE.findall(html_text))


def _apply(stack: list[tuple[str, str]], token: str) -> None:
    """Track which of our tags are open after `token`."""
    if not token.startswith("<") or len(token) < 3:
        return
    name_match = _TAG_NAME.match(token)
    if not name_match:
        return
    name = name_match.group(1).lower()
    if token.startswith("</"):
        if stack and stack[-1][0] == name:
            stack.pop()
    else:
        stack.append((name, token))


def split_message(html_text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Cut HTML into messages of at most `limit` visible UTF-16 units each.

    Cuts go at a blank line if one fits, else at a line end, else between words, else
    between characters; never inside a tag or a character reference. Tags open at a cut
    are closed at the end of one part and reopened at the start of the next.
    """
    if visible_length(html_text) <= limit:
        return [html_text] if _decode_all(html_text).strip() else []
    tokens = _PIECE_RE.findall(html_text)
    widths = [utf16_len(_decode(t)) for t in tokens]
    parts: list[str] = []
    stack: list[tuple[str, str]] = []
    start, n = 0, len(tokens)
    while start < n:
        used, i = 0, start
        paragraph = line = word = None
        while i < n and used + widths[i] <= limit:
            if tokens[i] == "\n" and i > start:
                if i + 1 < n and tokens[i + 1] == "\n":
                    paragraph = i
                else:
                    line = i
            elif tokens[i] == " " and i > start:
                word = i
            used += widths[i]
            i += 1
        cut = n if i >= n else (paragraph or line or word or i)
        if cut <= start:  # cannot happen with limit >= 2; guards against looping forever
            cut = start + 1
        reopen = "".join(raw for _name, raw in stack)
        body = tokens[start:cut]
        for token in body:
            _apply(stack, token)
        close = "".join(f"</{name}>" for name, _raw in reversed(stack))
        part = reopen + "".join(body) + close
        if _decode_all(part).strip():
            parts.append(part)
        start = cut
        while start < n and tokens[start] in (" ", "\n", "\t", "\r"):
            start += 1
    return parts


def _decode_all(html_text: str) -> str:
    return "".join(_decode(t) for t in _PIECE_RE.findall(html_text))
