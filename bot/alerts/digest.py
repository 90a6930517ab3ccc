"""Alert messages as Telegram HTML: one block per report, gathered into digest messages.

Everything a report wrote goes through `markup.escape`; the matched labels are
stored escaped already. A digest is cut between blocks so that each message stays under
Telegram's limit and carries whole alerts, which is what lets the sender mark exactly the
alerts of an accepted message as sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from babel.dates import format_date

from sectorbot.bot.alerts.outbox import PendingAlert
from sectorbot.bot.i18n import _, current, ngettext
from sectorbot.bot.markup import escape, utf16_len

MESSAGE_LIMIT = 4096  # Telegram's limit for one message, in UTF-16 code units
TITLE_CHARS = 300


def render_alert(alert: PendingAlert) -> str:
    """One alert as a Telegram HTML block: headline (linked), publisher and date, extract,
    the link, and what matched."""
    title = _clip(" ".join(alert.title.split()) or _("(untitled)"), TITLE_CHARS)
    meta = " · ".join(p for p in (alert.source, _date(alert.published)) if p)
    lines = [f"<b>{escape(title)}</b>"]
    if meta:
        lines.append(f"<i>{escape(_clip(meta, 200))}</i>")
    if alert.excerpt:
        lines.append(escape(alert.excerpt))
    if alert.url:
        url = escape(_clip(alert.url, 1000))
        lines.append(f'<a href="{url}">{url}</a>')
    lines.append(_("Matched: {labels}").format(labels=alert.matched))  # stored HTML-escaped
    return "\n".join(lines)


def render_digest(
    alerts: Sequence[PendingAlert], limit: int = MESSAGE_LIMIT, notes: Sequence[str] = ()
) -> list[tuple[str, list[int]]]:
    """Messages for one chat, each under `limit`, with the alert ids each one carries;
    `notes` (plain lines: the latest daily counts of the directions the chat follows) end
    the last message when they fit in it, and are left out when not."""
    head = "🔔 " + ngettext("New report", "{n} new reports", len(alerts)).format(n=len(alerts))
    messages: list[tuple[str, list[int]]] = []
    text = f"<b>{head}</b>"
    ids: list[int] = []
    for alert in alerts:
        block = render_alert(alert)
        candidate = f"{text}\n\n{block}"
        # Counted on the HTML source: the text Telegram counts is never longer than that.
        if ids and utf16_len(candidate) > limit:
            messages.append((text, ids))
            more = _("(continued)")
            candidate = f"<b>{head} {more}</b>\n\n{block}"
            ids = []
        text = candidate
        ids.append(alert.id)
    if ids:
        messages.append((text, ids))
    if notes and messages:
        last, last_ids = messages[-1]
        ended = last + "\n\n" + "\n".join(escape(n) for n in notes)
        if utf16_len(ended) <= limit:
            messages[-1] = (ended, last_ids)
    return messages


def _date(published: str | None) -> str:
    """`1 Feb 2025` from a stored date, month named in the current language."""
    if not published:
        return ""
    try:
        day = datetime.fromisoformat(published[:10])
    except ValueError:
        return published[:10]
    return format_date(day, "d MMM y", locale=current())


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
