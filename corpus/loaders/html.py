"""Web pages: the article's main text and metadata, via trafilatura.

Also `html_to_text`, a small converter for HTML fragments (feed summaries) that are too
short for trafilatura, which drops texts under a few hundred characters by design.
"""

from __future__ import annotations

import contextlib
import re
from html.parser import HTMLParser
from typing import Any

from sectorbot.corpus.dates import parse_date
from sectorbot.corpus.errors import LoadError
from sectorbot.corpus.fetch import Fetched
from sectorbot.corpus.loaders.markdown import ref_stem
from sectorbot.corpus.models import Document

NO_TEXT = "no article text found"

_LANG_RE = re.compile(rb"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)
_BLOCK_TAGS = frozenset(
    {
        *("p", "div", "section", "article", "header", "footer", "aside", "main", "blockquote"),
        *("pre", "ul", "ol", "li", "dl", "dt", "dd", "table", "tr", "figure", "figcaption"),
        *("hr", "h1", "h2", "h3", "h4", "h5", "h6"),
    }
)
_SKIP_TAGS = frozenset(("script", "style", "noscript", "template"))


def parse_html(
    html: str | bytes, ref: str, *, url: str | None = None, origin_kind: str = "html"
) -> Document:
    """The main text of one page as a Document; raises LoadError when there is none.

    `url` is where the page was fetched from; a canonical link in the page wins over it.
    """
    extracted = _extract(html, url)
    text = _paragraphs(extracted.get("text") or "")
    if not text:
        raise LoadError(NO_TEXT)
    return Document(
        text=text,
        title=_clean(extracted.get("title")) or ref_stem(ref),
        url=extracted.get("url") or url,
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


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: block elements become paragraphs, tags go."""
    parser = _TextParser()
    parser.feed(fragment)
    parser.close()
    return parser.text()


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


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._blocks: list[list[str]] = [[]]
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self._blocks.append([])
        elif tag == "br":
            self._blocks[-1].append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self._blocks.append([])

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            # Source line breaks are just whitespace in HTML; only <br> breaks a line.
            self._blocks[-1].append(data.replace("\r", " ").replace("\n", " "))

    def text(self) -> str:
        paragraphs = []
        for block in self._blocks:
            lines = ("".join(block)).split("\n")
            paragraph = "\n".join(" ".join(line.split()) for line in lines if line.strip())
            if paragraph:
                paragraphs.append(paragraph)
        return "\n\n".join(paragraphs)
