"""Bulk import: one JSON object per line, `{id, title, source, url, published, lang, text}`.

A line's `id` is unique within its `source` only, so it is stored under that source's prefix
(`scoped_id`): a file cannot replace the documents of another source, or of a feed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sectorbot.corpus.dates import parse_date
from sectorbot.corpus.errors import LoadError
from sectorbot.corpus.fetch import one_line
from sectorbot.corpus.models import Document, ItemFailure, local_id, scoped_id

FIELDS = ("id", "title", "source", "url", "published", "lang", "text", "author")


def parse_jsonl(text: str, ref: str) -> Iterator[Document | ItemFailure]:
    """One Document per good line; each bad line is an ItemFailure and the rest still load."""
    first_seen: dict[str, int] = {}
    # split("\n"), not splitlines(): JSON strings may hold a raw U+2028, which is no line end.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        line_ref = f"{ref}#L{number}"
        try:
            doc = parse_line(line, line_ref)
        except LoadError as exc:
            yield ItemFailure(line_ref, str(exc))
            continue
        if doc.ext_id is not None:
            if doc.ext_id in first_seen:
                first = first_seen[doc.ext_id]
                shown = local_id(doc.ext_id)
                yield ItemFailure(line_ref, f"duplicate id '{shown}' (first on line {first})")
                continue
            first_seen[doc.ext_id] = number
        yield doc


def parse_line(line: str, line_ref: str) -> Document:
    """One line as a Document; raises LoadError with the reason it cannot be one."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LoadError(f"invalid JSON: {one_line(exc.msg)} (column {exc.colno})") from None
    if not isinstance(record, dict):
        raise LoadError("line is not a JSON object")
    text = _field(record, "text")
    if not text.strip():
        raise LoadError("missing or empty 'text'")
    try:
        published = parse_date(_field(record, "published"))
    except ValueError as exc:
        raise LoadError(str(exc)) from None
    source = _field(record, "source").strip()
    given_id = _field(record, "id").strip()
    return Document(
        text=text.strip(),
        title=_field(record, "title").strip(),
        url=_field(record, "url").strip() or None,
        source=source,
        author=_field(record, "author").strip() or None,
        published=published,
        lang=_field(record, "lang").strip() or None,
        origin_kind="jsonl",
        origin_ref=line_ref,
        ext_id=scoped_id("jsonl", source, given_id) if given_id else None,
        meta=_extra(record),
    )


def _field(record: dict[str, Any], key: str) -> str:
    """A field as a string: null and missing are "", numbers are written out, lists refused."""
    value = record.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise LoadError(f"field '{key}' should be a string, not {type(value).__name__}")


def _extra(record: dict[str, Any]) -> dict[str, str]:
    """Unknown scalar fields travel along in meta rather than being dropped."""
    return {
        key: str(value)
        for key, value in record.items()
        if key not in FIELDS and isinstance(value, str | int | float) and value != ""
    }
