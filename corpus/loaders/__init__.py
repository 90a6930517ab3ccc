"""Turning files, folders and URLs into Documents.

`iter_targets` expands what a person named into single files and URLs; `load` turns one of
them into Documents and ItemErrors. `load` never raises for bad input: a run over a folder
of a thousand files must report the three broken ones and go on.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

from sectorbot.corpus.errors import InputError, LoadError
from sectorbot.corpus.fetch import Fetched, Fetcher
from sectorbot.corpus.loaders.feeds import FEED_MEDIA_TYPES, parse_feed
from sectorbot.corpus.loaders.html import parse_fetched_html, parse_html
from sectorbot.corpus.loaders.jsonl import parse_jsonl
from sectorbot.corpus.loaders.markdown import decode_text, parse_markdown
from sectorbot.corpus.loaders.pdf import parse_pdf
from sectorbot.corpus.loaders.telegram_export import parse_telegram_json
from sectorbot.corpus.models import Document, ItemFailure, Known, StoredAlready
from sectorbot.corpus.text import format_size, one_line
from sectorbot.corpus.urls import claimed_url

__all__ = ["EXTENSION_KINDS", "Item", "is_url", "iter_targets", "load", "sniff"]

log = logging.getLogger(__name__)

EXTENSION_KINDS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".xml": "feed",
    ".rss": "feed",
    ".atom": "feed",
    ".json": "telegram",
    ".jsonl": "jsonl",
}
SNIFF_BYTES = 4096
_SKIPPED_DIRS = frozenset(("__pycache__",))
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_XML_DECLARATION_RE = re.compile(r"^\s*<\?xml[^>]*\?>")
_HTML_TYPES = frozenset(("text/html", "application/xhtml+xml"))

Item = Document | ItemFailure | StoredAlready
"""What loading yields: a document, a failure with its reason, or an entry stored already."""


def is_url(target: str) -> bool:
    return bool(_URL_RE.match(target))


# Files that describe a folder rather than report on the war: a folder's README or SOURCES
# list is skipped when walking it (naming the file itself still ingests it).
_FOLDER_NOTES = re.compile(r"^(readme|sources|license|licence|changelog|notice)(\.\w+)?$", re.I)


def _is_content(name: str) -> bool:
    return not name.startswith(".") and not _FOLDER_NOTES.match(name)


def iter_targets(target: str) -> Iterator[str]:
    """Files of a folder, recursively and sorted, without hidden ones; anything else as is."""
    if is_url(target) or not os.path.isdir(target):
        yield target
        return
    found: list[str] = []
    for folder, dirs, files in os.walk(target):
        # Pruning in place stops os.walk from descending into hidden or cache folders.
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS]
        found.extend(os.path.join(folder, f) for f in files if _is_content(f))
    yield from sorted(found, key=lambda p: Path(p).parts)


def load(
    target: str,
    fetcher: Fetcher,
    max_bytes: int,
    channel: str | None = None,
    known: Known | None = None,
) -> Iterator[Item]:
    """Documents and per-item errors from ONE file or URL; never raises for bad input.

    `channel` is the public Telegram username used for post links of a Telegram export.
    `known` tells feeds which entry ids are stored already (see `parse_feed`).
    """
    try:
        if is_url(target):
            yield from _load_url(target, fetcher, max_bytes, known)
        else:
            yield from _load_file(target, fetcher, max_bytes, channel, known)
    except InputError as exc:
        yield ItemFailure(target, one_line(str(exc)))
    except Exception as exc:
        # A bug of ours or a library's, not the input's fault: keep the run going, but
        # leave the traceback in the log so that it gets fixed.
        log.exception("unexpected error loading %s", target)
        yield ItemFailure(target, one_line(f"unexpected error: {type(exc).__name__}: {exc}"))


def sniff(head: bytes) -> str | None:
    """What the first bytes of a file or response show it to be: pdf, feed, html or None."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"%PDF-"):
        return "pdf"
    root = _skip_xml_prolog(start[:SNIFF_BYTES].lower())
    if root.startswith((b"<rss", b"<feed", b"<rdf:rdf")):
        return "feed"
    if root.startswith((b"<!doctype html", b"<html")):
        return "html"
    return None


def _skip_xml_prolog(data: bytes) -> bytes:
    """Skip the XML declaration, processing instructions and comments before the root."""
    while True:
        data = data.lstrip()
        if data.startswith(b"<?"):
            end, closer = data.find(b"?>"), b"?>"
        elif data.startswith(b"<!--"):
            end, closer = data.find(b"-->"), b"-->"
        else:
            return data
        if end < 0:
            return b""
        data = data[end + len(closer) :]


def _load_file(
    path: str, fetcher: Fetcher, max_bytes: int, channel: str | None, known: Known | None
) -> Iterator[Item]:
    size = _file_size(path)
    if size == 0:
        raise LoadError("empty file")
    kind = _file_kind(path, _read(path, SNIFF_BYTES))
    if size > max_bytes:
        raise LoadError(f"file is {format_size(size)}, over the {format_size(max_bytes)} limit")
    data = _read(path, max_bytes + 1)
    if kind == "pdf":
        yield parse_pdf(data, path)
        return
    text = decode_text(data)
    if not text.strip():
        raise LoadError("empty file")
    yield from _parse_text(kind, text, data, path, fetcher, channel, known)


def _parse_text(
    kind: str,
    text: str,
    data: bytes,
    path: str,
    fetcher: Fetcher,
    channel: str | None,
    known: Known | None,
) -> Iterator[Item]:
    if kind in ("markdown", "text"):
        yield parse_markdown(text, path, origin_kind=kind)
    elif kind == "html":
        # lxml refuses a str that still declares its byte encoding; it is decoded already.
        yield parse_html(_XML_DECLARATION_RE.sub("", text, count=1), path)
    elif kind == "feed":
        # Raw bytes: feedparser honours the encoding the XML declaration names.
        yield from parse_feed(data, path, fetcher, known)
    elif kind == "telegram":
        yield from parse_telegram_json(text, path, channel)
    else:
        yield from parse_jsonl(text, path)


def _file_size(path: str) -> int:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise LoadError("no such file") from None
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}") from None
    if os.path.isdir(path):
        raise LoadError("is a folder, not a file")
    return info.st_size


def _read(path: str, limit: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}") from None


def _file_kind(path: str, head: bytes) -> str:
    """The extension decides, except that content that is plainly a PDF or a feed wins."""
    suffix = Path(path).suffix.lower()
    by_extension = EXTENSION_KINDS.get(suffix)
    sniffed = sniff(head)
    if sniffed == "pdf":
        return "pdf"
    if sniffed == "feed" and by_extension in (None, "markdown", "text", "html"):
        return "feed"
    if by_extension:
        return by_extension
    shown = f"'{suffix}'" if suffix else "(no extension)"
    raise LoadError(f"unsupported file type {shown}")


def _load_url(url: str, fetcher: Fetcher, max_bytes: int, known: Known | None) -> Iterator[Item]:
    fetched = fetcher.fetch(url)
    if fetched is None:  # only a conditional GET answers 304, and load makes none
        return
    size = len(fetched.body)
    if size > max_bytes:
        raise LoadError(f"response is {format_size(size)}, over the {format_size(max_bytes)} limit")
    if not fetched.body.strip():
        raise LoadError("empty response")
    kind = _url_kind(fetched)
    if kind == "pdf":
        yield parse_pdf(fetched.body, url, url=fetched.final_url)
    elif kind == "feed":
        yield from parse_feed(fetched.body, url, fetcher, known)
    elif kind == "html":
        yield parse_fetched_html(fetched)
    else:
        yield _fetched_text(fetched)


def _url_kind(fetched: Fetched) -> str:
    """Content-Type first, corrected by sniffing: servers often label feeds text/html."""
    media = fetched.media_type
    sniffed = sniff(fetched.body[:SNIFF_BYTES])
    if sniffed == "pdf" or media == "application/pdf":
        return "pdf"
    if sniffed == "feed" or (media in FEED_MEDIA_TYPES and sniffed != "html"):
        return "feed"
    if media in _HTML_TYPES or sniffed == "html":
        return "html"
    if media.startswith("text/"):
        return "text"
    raise LoadError(f"unsupported content type '{media or 'none'}'")


def _fetched_text(fetched: Fetched) -> Document:
    text = decode_text(fetched.body)
    doc = parse_markdown(text, fetched.url, origin_kind="url")
    doc.url = claimed_url(doc.url, fetched.final_url)
    # A page's identity is its URL. An id in its front matter was written by whoever runs
    # the site, and would let the page replace any stored document that has that id.
    doc.ext_id = None
    return doc
