"""The plain records that flow from loaders into the store."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

# Ids that a feed or a JSONL file gives are only unique within that feed or source, and their
# authors choose them freely: each is stored under a prefix of its own, `feed:<scope hash>:`,
# so that no feed or file can name (and so overwrite) another's documents. The scope is hashed
# to a fixed length, which keeps the prefix unambiguous whatever characters the scope holds.
SCOPE_HASH_CHARS = 16
_SCOPED_RE = re.compile(rf"^(?:feed|jsonl):[0-9a-f]{{{SCOPE_HASH_CHARS}}}:")

Known = Callable[[str], bool]
"""Whether the store holds a document under this (scoped) ext_id already."""


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
    ext_id: str | None = None  # an id given by the source; feed and JSONL ids are scoped
    # What a source says beyond the fields above (front-matter keys, extra JSONL fields, a
    # forward's origin): stored and exported as a JSON object of strings.
    meta: dict[str, str] = field(default_factory=dict)

    def scoped_ext_id(self) -> str | None:
        """`ext_id` as the store keys it: a feed's or JSONL source's ids under their prefix.

        Idempotent, so documents that already carry the scoped form (from a loader, or from
        an export) keep it, and older exports with bare ids get it on import.
        """
        if not self.ext_id:
            return None
        if self.origin_kind == "feed":
            return scoped_id("feed", self.origin_ref, self.ext_id)
        if self.origin_kind == "jsonl":
            return scoped_id("jsonl", self.source, self.ext_id)
        return self.ext_id

    @property
    def content_hash(self) -> str:
        """Hash of what a reader sees: title and text, whitespace-normalised."""
        norm = " ".join(self.title.split()) + "\n" + " ".join(self.text.split())
        return hashlib.sha256(norm.encode("utf-8")).hexdigest()


def scoped_id(kind: str, scope: str, local: str) -> str:
    """`local` under the prefix of `kind` ("feed", "jsonl") and `scope` (a feed, a source)."""
    digest = hashlib.sha256(scope.encode("utf-8", "surrogatepass")).hexdigest()
    prefix = f"{kind}:{digest[:SCOPE_HASH_CHARS]}:"
    return local if local.startswith(prefix) else prefix + local


def local_id(ext_id: str) -> str:
    """The id as its source gave it, without the scope prefix `scoped_id` adds."""
    match = _SCOPED_RE.match(ext_id)
    return ext_id[match.end() :] if match else ext_id


@dataclass(frozen=True)
class StoredAlready:
    """An item a loader skipped because the store holds it already (a feed entry's id)."""

    ext_id: str


def meta_json(meta: dict[str, str]) -> str | None:
    """`Document.meta` as the store keeps it: JSON with sorted keys, or None when empty."""
    return json.dumps(meta, ensure_ascii=False, sort_keys=True) if meta else None


def meta_from_json(text: str | None) -> dict[str, str]:
    """`Document.meta` from its stored JSON; ValueError when it is not an object of scalars."""
    if not text:
        return {}
    value = json.loads(text)
    if not isinstance(value, dict) or not all(
        isinstance(v, str | int | float | bool) for v in value.values()
    ):
        raise ValueError("meta should be a JSON object of strings")
    return {str(k): str(v) for k, v in value.items()}


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


@dataclass(frozen=True)
class Figure:
    """A per-direction daily count that a report states ("52 attacks on the Pokrovsk
    direction on 15 November"), with where in the document's text it is said."""

    day: str  # YYYY-MM-DD: the day the count is about
    as_of: str  # "HH:MM" for a running total, "day" for the whole day, "" when unsaid
    direction: str  # a direction id (index/directions.py)
    counted: str  # "attacks" or "clashes"
    count: int
    start: int  # the sentence stating it, as offsets in the document's text
    end: int


@dataclass(frozen=True)
class FigureReader:
    """What reads a document's figures (index/figures.py), and its version: a document read
    by an older version is read again."""

    version: int
    read: Callable[[str, str | None], list[Figure]]
