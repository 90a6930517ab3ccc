"""Bulk import: one JSON object per line, `{id, title, source, url, published, lang, text}`.

A line's `id` is unique within its `source` only, so it is stored under that source's prefix
(`scoped_id`): a file cannot replace the documents of another source, or of a feed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from sectorbot.corpus.dates import parse_date
from sectorbot.corpus.errors import LoadError
from sectorbot.corpus.models import Document, ItemFailure, local_id, scoped_id
from sectorbot.corpus.text import one_line

log = logging.getLogger(__name__)

FIELDS = ("id", "title", "source", "url", "published", "lang", "text", "author")


def parse_jsonl(text: str, ref: str) -> Iterator[Document | ItemFailure]:
    """One Document per good line; each bad line is an ItemFailure and the rest still load."""
    first_seen: dict[str, int] = {}
    # split("\n"), not splitlines(): JSON strings may hold a raw U+2028, which is no line end.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        line_ref = f"{ref}#L{number}"
        item = _isolated_line(line, line_ref)
        ext_id = item.ext_id if isinstance(item, Document) else None
        if ext_id is not None:
            if ext_id in first_seen:
                first = first_seen[ext_id]
                shown = local_id(ext_id)
                item = ItemFailure(line_ref, f"duplicate id '{shown}' (first on line {first})")
            else:
                first_seen[ext_id] = number
        yield item


def _isolated_line(line: str, line_ref: str) -> Document | ItemFailure:
    """One line; whatever goes wrong with it costs this line, not the rest of the file."""
    try:
        return parse_line(line, line_ref)
    except LoadError as exc:
        return ItemFailure(line_ref, str(exc))
    except Exception as exc:  # an error of ours: logged to be fixed, the file goes on
        log.exception("unexpected error reading %s", line_ref)
        return ItemFailure(line_ref, one_line(f"unexpected error: {type(exc).__name__}: {exc}"))


def parse_line(line: str, line_ref: str) -> Document:
    """One line as a Document; raises LoadError with the reason it cannot be one."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LoadError(f"invalid JSON: {one_line(exc.msg)} (column {exc.colno})") from None
    except RecursionError:
        raise LoadError("invalid JSON: nested too deeply") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise LoadError(f"invalid JSON: {one_line(str(exc))}") from None
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
