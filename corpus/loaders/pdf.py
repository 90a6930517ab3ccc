"""PDF reports: the text of every page, re-flowed into paragraphs, and the document info."""

from __future__ import annotations

import io
import re
from datetime import datetime

import pypdf

from sectorbot.corpus.dates import parse_date
from sectorbot.corpus.errors import LoadError
from sectorbot.corpus.loaders.markdown import ref_stem
from sectorbot.corpus.models import Document
from sectorbot.corpus.text import one_line

# A line ending in a hyphen right after a letter: "evac-", "Russian-".
_HYPHEN_END_RE = re.compile(r"[^\W\d_]-$")
_SENTENCE_END = tuple('.!?:;»"”)')
_LIST_ITEM_RE = re.compile(r"^\s*([•▪◦·*–-]|\d{1,3}[.)])\s")
# A line this much shorter than the page's longest one, ending a sentence, ends a paragraph.
_SHORT_LINE = 0.75


def parse_pdf(data: bytes, ref: str, *, url: str | None = None) -> Document:
    """One PDF as one Document; raises LoadError when broken, encrypted or without text."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        _unlock(reader)
        pages = [page.extract_text() or "" for page in reader.pages]
        info = _info(reader)
    except LoadError:
        raise
    except Exception as exc:  # pypdf raises many kinds (and plain ValueError) on bad files
        raise LoadError(f"broken PDF: {_short(exc)}") from None
    text = "\n\n".join(p for p in (reflow(page) for page in pages) if p)
    if not text:
        raise LoadError("PDF has no extractable text")
    return Document(
        text=text,
        title=info.get("title") or ref_stem(ref),
        url=url,
        author=info.get("author"),
        published=info.get("published"),
        origin_kind="pdf",
        origin_ref=ref,
    )


def reflow(page_text: str) -> str:
    """Undo the layout of one page: join hyphenated words and wrapped lines, keep paragraphs."""
    lines = [" ".join(line.split()) for line in page_text.splitlines()]
    widest = max((len(line) for line in lines), default=0)
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if not line:
            paragraphs.append([])
            continue
        if paragraphs[-1] and _ends_paragraph(paragraphs[-1][-1], line, widest):
            paragraphs.append([])
        paragraphs[-1].append(line)
    return "\n\n".join(_join_lines(p) for p in paragraphs if p)


def _join_lines(lines: list[str]) -> str:
    # Pieces joined once at the end, and only their last characters inspected: growing one
    # string and searching all of it for each line took time growing with the square of the
    # paragraph's length.
    pieces = [lines[0]]
    for line in lines[1:]:
        tail = "".join(pieces[-2:])[-2:]
        if _HYPHEN_END_RE.search(tail) and line[0].isalpha():
            # A lower-case continuation is a word the layout split ("evac-" + "uation");
            # otherwise the hyphen is part of the text ("Russian-" + "Ukrainian").
            if line[0].islower():
                pieces[-1] = pieces[-1][:-1]
            pieces.append(line)
        else:
            pieces.append(" " + line)
    return "".join(pieces)


def _ends_paragraph(previous: str, line: str, widest: int) -> bool:
    if _LIST_ITEM_RE.match(line):
        return True
    return previous.endswith(_SENTENCE_END) and len(previous) < _SHORT_LINE * widest


def _unlock(reader: pypdf.PdfReader) -> None:
    # Many "protected" PDFs only carry an owner password and open with an empty one.
    if reader.is_encrypted and not reader.decrypt(""):
        raise LoadError("PDF is encrypted")


def _info(reader: pypdf.PdfReader) -> dict[str, str]:
    meta = reader.metadata
    if meta is None:
        return {}
    info = {
        "title": " ".join((meta.title or "").split()),
        "author": " ".join((meta.author or "").split()),
    }
    published = _creation_date(meta)
    if published:
        info["published"] = published
    return {k: v for k, v in info.items() if v}


def _creation_date(meta: pypdf.DocumentInformation) -> str | None:
    # Producers write all sorts of junk into /CreationDate; losing the date is fine.
    try:
        created = meta.creation_date
    except Exception:
        return None
    if not isinstance(created, datetime):
        return None
    try:
        return parse_date(created.isoformat())
    except ValueError:
        return None


def _short(exc: BaseException) -> str:
    return one_line(str(exc) or type(exc).__name__, limit=120)
