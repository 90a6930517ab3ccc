"""RSS and Atom feeds: one Document per entry, with the full article text where we can get it.

Many feeds carry only a teaser. For those the entry's link is fetched and its main text
extracted; when that fails the teaser is kept and the Document says so in
`meta["full_text"]`.

The feed's author chooses those links, so they are fetched with care: as untrusted URLs (only
public addresses, see `Fetcher`), at most MAX_LINK_FETCHES per feed and run, and never again
for an entry whose document is stored already (the caller says which ids those are).
"""

from __future__ import annotations

import calendar
import io
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import feedparser

from sectorbot.corpus.dates import parse_date
from sectorbot.corpus.errors import InputError
from sectorbot.corpus.fetch import Fetcher
from sectorbot.corpus.loaders.html import parse_fetched_html
from sectorbot.corpus.loaders.html_text import html_to_text
from sectorbot.corpus.loaders.pdf import parse_pdf
from sectorbot.corpus.models import Document, ItemFailure, Known, StoredAlready, scoped_id
from sectorbot.corpus.text import one_line

log = logging.getLogger(__name__)

# Below this many words an entry's own text is taken for a teaser, not the article.
MIN_FULL_TEXT_WORDS = 80
# Links fetched for one feed in one run (a poll, an ingest). A feed's author decides how many
# entries it has and where they point; this bounds the requests one feed can make us send.
# Teaser entries past it are stored from their summaries: that happens to the backlog of a
# feed's first run, while later polls bring a few new entries each.
MAX_LINK_FETCHES = 10
FEED_MEDIA_TYPES = frozenset(
    (
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
        "application/feed+xml",
    )
)
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_SAX_POSITION_RE = re.compile(r"^<unknown>:(\d+):(\d+):\s*")


@dataclass
class _Links:
    """How the entries of one feed may complete their teasers from their links."""

    fetcher: Fetcher | None
    known: Known | None
    left: int = MAX_LINK_FETCHES


def parse_feed(
    data: bytes, ref: str, fetcher: Fetcher | None, known: Known | None = None
) -> Iterator[Document | ItemFailure | StoredAlready]:
    """Documents for the entries of one feed; `ref` is its path or URL.

    Never raises for bad input: a feed that cannot be read at all is one ItemFailure, and an
    entry that cannot be read is one ItemFailure while the others still load.
    `fetcher` is used for entries that carry only a summary; None skips those fetches.
    `known` tells which entry ids are stored already: a teaser entry among them is not
    fetched again but passed on as StoredAlready.
    """
    try:
        parsed = _parse(data, ref)
    except Exception as exc:  # feedparser's own guards miss some mangled XML declarations
        yield ItemFailure(ref, f"broken feed XML: {one_line(f'{type(exc).__name__}: {exc}')}")
        return
    if not parsed.entries:
        problem = _feed_problem(parsed)
        if problem:
            yield ItemFailure(ref, problem)
        return
    feed = parsed.get("feed", {})
    source = _plain(feed.get("title_detail"), feed.get("title"))
    lang = _short_lang(feed.get("language"))
    links = _Links(fetcher, known)
    for number, entry in enumerate(parsed.entries, start=1):
        yield _isolated_entry(entry, f"{ref}#entry{number}", ref, source, lang, links)


def _isolated_entry(
    entry: Any, entry_ref: str, ref: str, source: str, lang: str | None, links: _Links
) -> Document | ItemFailure | StoredAlready:
    """One entry; an error of ours or a library's costs this entry, not the rest of the feed."""
    try:
        return _entry_document(entry, entry_ref, ref, source, lang, links)
    except Exception as exc:
        log.exception("unexpected error reading %s", entry_ref)
        return ItemFailure(entry_ref, one_line(f"unreadable entry: {type(exc).__name__}: {exc}"))


def _parse(data: bytes, ref: str) -> Any:
    # A BytesIO, never the raw bytes or a str: feedparser treats strings as URLs or paths.
    headers = {"content-location": ref} if ref.startswith(("http://", "https://")) else {}
    # feedparser's own HTML passes (sanitising, resolving relative links) take time that
    # grows with the square of some markup (80,000 characters of `<!--` in a summary took
    # 1.4 s, twice as many 3.8 s), and html_to_text keeps nothing of theirs but the text.
    return feedparser.parse(
        io.BytesIO(data), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )


def _feed_problem(parsed: Any) -> str | None:
    if parsed.get("bozo"):
        reason = str(parsed.get("bozo_exception") or "unknown error")
        # The SAX parser names the position as "<unknown>:3:14: ..."; say it in words.
        reason = _SAX_POSITION_RE.sub(r"line \1, column \2: ", reason)
        return f"broken feed XML: {one_line(reason)}"
    if not parsed.get("version"):
        return "not an RSS or Atom feed"
    return None  # a well-formed feed that is simply empty right now


def _entry_document(
    entry: Any, entry_ref: str, ref: str, source: str, lang: str | None, links: _Links
) -> Document | ItemFailure | StoredAlready:
    link = entry.get("link") or None
    guid = entry.get("id")
    doc = Document(
        text=_entry_text(entry),
        title=_plain(entry.get("title_detail"), entry.get("title")),
        url=link,
        source=source,
        author=entry.get("author") or None,
        published=_entry_date(entry),
        lang=lang,
        origin_kind="feed",
        origin_ref=ref,
        ext_id=scoped_id("feed", ref, guid) if isinstance(guid, str) and guid else None,
    )
    if len(doc.text.split()) < MIN_FULL_TEXT_WORDS:
        if doc.ext_id and links.known and links.known(doc.ext_id):
            # Its link was fetched (or tried) when it was stored; a teaser must not
            # replace the article now, and fetching it again on every poll is the feed's
            # author making us send requests.
            return StoredAlready(doc.ext_id)
        _complete_from_link(doc, links)
    if not doc.text:
        reason = doc.meta.get("full_text", "").removeprefix("summary only: ")
        return ItemFailure(link or entry_ref, f"entry has no text ({reason})")
    return doc


def _entry_text(entry: Any) -> str:
    """The longest of the entry's content blocks, else its summary, as plain text."""
    contents = [_plain(c, c.get("value")) for c in entry.get("content", [])]
    best = max(contents, key=len, default="")
    return best or _plain(entry.get("summary_detail"), entry.get("summary"))


def _complete_from_link(doc: Document, links: _Links) -> None:
    """Replace a teaser by the linked page's text, or note why it stays a teaser."""
    if not doc.url:
        doc.meta["full_text"] = "summary only: entry has no link"
        return
    if links.fetcher is None:
        doc.meta["full_text"] = "summary only: not fetched"
        return
    if links.left <= 0:
        doc.meta["full_text"] = f"summary only: over {MAX_LINK_FETCHES} link fetches in one run"
        return
    links.left -= 1
    try:
        page = _fetch_page(doc.url, links.fetcher)
    except InputError as exc:
        doc.meta["full_text"] = f"summary only: {one_line(str(exc))}"
        return
    if len(page.text) <= len(doc.text):
        doc.meta["full_text"] = "summary only: the linked page has no longer text"
        return
    doc.text = page.text
    doc.meta["full_text"] = "fetched from link"
    doc.author = doc.author or page.author
    doc.published = doc.published or page.published
    doc.lang = doc.lang or page.lang


def _fetch_page(url: str, fetcher: Fetcher) -> Document:
    fetched = fetcher.fetch(url, untrusted=True)
    if fetched is None:  # cannot happen without a conditional GET; kept for the type checker
        raise InputError("not modified")
    if fetched.media_type == "application/pdf" or fetched.body.startswith(b"%PDF-"):
        return parse_pdf(fetched.body, url, url=fetched.final_url)
    return parse_fetched_html(fetched)


def _entry_date(entry: Any) -> str | None:
    """published, else updated; the raw text keeps date-only values, the parsed one the rest."""
    for key in ("published", "updated", "created"):
        raw, parsed = entry.get(key), entry.get(f"{key}_parsed")
        if not raw:
            continue
        try:
            return parse_date(raw)
        except ValueError:
            pass
        if isinstance(parsed, time.struct_time):
            try:
                return parse_date(calendar.timegm(parsed))
            except ValueError:
                pass
    return None


def _plain(detail: Any, value: Any) -> str:
    """Text of a feed field, converting HTML when the feed says it is HTML."""
    if not isinstance(value, str):
        return ""
    kind = detail.get("type", "") if isinstance(detail, dict) else ""
    if kind in _HTML_TYPES:
        return html_to_text(value)
    return value.strip()


def _short_lang(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().split("-")[0].split("_")[0].lower()
