"""The plain records that flow from loaders into the store."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass
class Document:
    """One article, report, post or page, as a loader produced it."""

    text: str
    title: str = ""
    url: str | None = None
    source: str = ""  # the publisher or channel
    author: str | None = None
    published: str | None = None  # ISO date or datetime, already validated
    lang: str | None = None
    origin_kind: str = ""  # markdown, text, html, url, pdf, feed, telegram, jsonl
    origin_ref: str = ""  # path, URL, "path#L12" ... where it came from
    ext_id: str | None = None  # an id given by the source (JSONL id, front matter id)
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """Hash of what a reader sees: title and text, whitespace-normalised."""
        norm = " ".join(self.title.split()) + "\n" + " ".join(self.text.split())
        return hashlib.sha256(norm.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ItemFailure:
    """One input that could not be loaded, with a one-line reason."""

    ref: str
    reason: str


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: text == document.text[start:end]."""

    ordinal: int
    start: int
    end: int
    text: str
