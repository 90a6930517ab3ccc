"""Web pages: the article's main text and metadata, via trafilatura.

HTML fragments (feed summaries) are too short for trafilatura, which drops texts under a few
hundred characters by design; `html_to_text` (from `html_text`) reads those.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from sectorbot.corpus.dates import parse_date
from sectorbot.corpus.errors import LoadError
from sectorbot.corpus.fetch import Fetched
from sectorbot.corpus.loaders.html_text import html_to_text
from sectorbot.corpus.loaders.markdown import ref_stem
from sectorbot.corpus.models import Document
from sectorbot.corpus.urls import claimed_url

__all__ = ["NO_TEXT", "html_to_text", "parse_fetched_html", "parse_html"]

NO_TEXT = "no article text found"

_LANG_RE = re.compile(rb"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)


def parse_html(
    html: str | bytes, ref: str, *, url: str | None = None, origin_kind: str = "html"
) -> Document:
    """The main text of one page as a Document; raises LoadError when there is none.

    `url` is where the page was fetched from; a canonical link in the page wins over it when
    it names the same site (a local file's canonical link is the operator's own).
    """
    extracted = _extract(html, url)
    own = extracted.get("url")
    own = claimed_url(own, url) if url else own
    text = _paragraphs(extracted.get("text") or "")
    if not text:
        raise LoadError(NO_TEXT)
    return Document(
        text=text,
        title=_clean(extracted.get("title")) or ref_stem(ref),
        url=own or url,
        source=_clean(extracted.get("sitename")) or _clean(extracted.get("hostname")),
        author=_clean(extracted.get("author")) or None,
        published=_lenient_date(extracted.get("date")),
        lang=_clean(extracted.get("language")) or _declared_lang(html),
        origin_kind=origin_kind,
        origin_ref=ref,
    )


def parse_fetched_html(fetched: Fetched) -> Document:
    """A fetched page, decoded with the charset the server named (if any)."""
    html: str | bytes = fetched.body
    charset = fetched.charset
    # An unknown charset name is ignored: trafilatura then sniffs the bytes itself.
    if charset:
        with contextlib.suppress(LookupError):
            html = fetched.body.decode(charset, errors="replace")
    return parse_html(html, fetched.url, url=fetched.final_url, origin_kind="url")


def _extract(html: str | bytes, url: str | None) -> dict[str, Any]:
    # Imported here: trafilatura drags in lxml, htmldate and justext, which costs a
    # noticeable start-up time that commands not touching HTML should not pay.
    import trafilatura

    try:
        result = trafilatura.bare_extraction(
            html, url=url, with_metadata=True, include_comments=False, include_tables=True
        )
    except Exception as exc:  # trafilatura/lxml raise many kinds on hostile markup
        raise LoadError(f"cannot parse HTML: {type(exc).__name__}") from None
    if result is None:
        raise LoadError(NO_TEXT)
    # trafilatura 2.x returns a Document object, 1.x a dict.
    return result if isinstance(result, dict) else result.as_dict()


def _paragraphs(text: str) -> str:
    """trafilatura puts one block per line; the store wants blank lines between paragraphs."""
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n\n".join(line for line in lines if line)


def _clean(value: object) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _lenient_date(value: object) -> str | None:
    # Page dates are guessed by htmldate; a bad guess should cost the date, not the page.
    if not isinstance(value, str):
        return None
    try:
        return parse_date(value)
    except ValueError:
        return None


def _declared_lang(html: str | bytes) -> str | None:
    head = html[:4096]
    match = _LANG_RE.search(head.encode("utf-8", "replace") if isinstance(head, str) else head)
    return match.group(1).decode("ascii").lower() if match else None
