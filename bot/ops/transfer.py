"""`sectorbot export` and `import`: the store as JSONL, and back into another data directory.

An export is read from one consistent snapshot of the live database, so it may run while the
bot runs. An import stores each line on its own: a bad line is named and skipped, and
importing the same file twice changes nothing.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from sectorbot.bot.errors import OperationError
from sectorbot.bot.ops.import_store import ImportStore
from sectorbot.bot.settings import Settings
from sectorbot.corpus.dates import parse_date, stamp
from sectorbot.corpus.errors import InputError
from sectorbot.corpus.models import Document, meta_from_json
from sectorbot.corpus.snapshot import Snapshot, open_snapshot
from sectorbot.corpus.text import format_size, one_line

if TYPE_CHECKING:
    from sectorbot.bot.service import Service

EXPORT_FORMAT = "sectorbot-export"
EXPORT_VERSION = 1
# Tables of the alerts, exported so that moving the bot keeps who follows what. Listed
# parents first (foreign keys). Each names the
# columns an import leaves out because the receiving store assigns them.
EXTRA_TABLES: dict[str, tuple[str, ...]] = {
    "chats": (),  # the chat id is Telegram's: kept
    # A new id here; UNIQUE (chat_id, kind, normalized) makes a repeated import a no-op.
    "subscriptions": ("id",),
}
# Not exported: `alerts` and `alert_inbox` point at document ids of this store, which an
# import assigns anew; imported documents are kept out of the alert inbox instead.
CORE_KINDS = {"documents": "document", "feeds": "feed"}


def export(settings: Settings, out: IO[str], vectors: bool = True) -> dict[str, int]:
    """Write the store as JSONL (a header line, then one line per row); return the counts.

    With `vectors`, each document line carries its passages' vectors, so that the store it
    is imported into need not embed the corpus again.
    """
    with _snapshot(settings) as snapshot:
        return _write_export(snapshot, out, vectors)


@contextmanager
def _snapshot(settings: Settings) -> Iterator[Snapshot]:
    """The store frozen for reading: a copy of the SQLite file, or one PostgreSQL transaction."""
    if not settings.database_url and not settings.db_path.is_file():
        raise OperationError(f"no database at {settings.db_path}")
    with open_snapshot(settings.store_target) as snapshot:
        yield snapshot


def _write_export(snapshot: Snapshot, out: IO[str], vectors: bool) -> dict[str, int]:
    # Counts and rows come from the same frozen state, so the header always matches.
    tables = [*CORE_KINDS, *EXTRA_TABLES]
    counts = {t: snapshot.count(t) for t in tables}
    out.write(_json(export_header(counts)) + "\n")
    by_document = _vectors_by_document(snapshot.passage_vectors() if vectors else iter(()))
    next(by_document)  # started: from here on it is sent document ids
    for table in tables:
        # Core tables in id order (an import then assigns ids in the same order); other
        # features' tables as they are, since they may have no rowid.
        for row in snapshot.rows(table, order_by_id=table in CORE_KINDS):
            line = _export_line(table, row)
            if table == "documents":
                line.update(by_document.send(row["id"]) or {})
            out.write(_json(line) + "\n")
    return counts


def _vectors_by_document(
    rows: Iterator[tuple[Any, ...]],
) -> Generator[dict[str, Any] | None, int, None]:
    """Sent each document id in ascending order, yields the "vectors" field for it or None.

    Both streams are in document order, so they are merged as they go: nothing is held but
    the current document's vectors. A document is given vectors only when every passage has
    one from the same model, in order.
    """
    pending = next(rows, None)
    doc_id = yield None
    while True:
        while pending is not None and pending[0] < doc_id:
            pending = next(rows, None)
        mine = []
        while pending is not None and pending[0] == doc_id:
            mine.append(pending)
            pending = next(rows, None)
        doc_id = yield _vectors_field(mine)


def _vectors_field(rows: list[tuple[Any, ...]]) -> dict[str, Any] | None:
    if not rows or [r[1] for r in rows] != list(range(len(rows))):
        return None
    if len({(r[2], r[3]) for r in rows}) != 1:
        return None
    passages = [base64.b64encode(r[4]).decode("ascii") for r in rows]
    field: dict[str, Any] = {"model": rows[0][2], "backend": rows[0][3], "passages": passages}
    # The quotable sentences too, when every passage has them from one model: an import
    # then embeds nothing at all.
    if all(r[5] for r in rows) and len({r[5] for r in rows}) == 1:
        field["sentences"] = {
            "model": rows[0][5],
            "spans": [base64.b64encode(r[6]).decode("ascii") for r in rows],
            "vectors": [base64.b64encode(r[7]).decode("ascii") for r in rows],
        }
    return {"vectors": field}


def export_header(counts: dict[str, int]) -> dict[str, Any]:
    return {
        "kind": "header",
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": stamp(),
        "counts": counts,
    }


def _export_line(table: str, row: dict[str, Any]) -> dict[str, Any]:
    row = {key: _encode(value) for key, value in row.items()}
    if table in CORE_KINDS:
        return {"kind": CORE_KINDS[table], **row}
    return {"kind": "row", "table": table, "data": row}


def _encode(value: Any) -> Any:
    # SQLite values are numbers, text, NULL or BLOBs; only a BLOB (a topic's vector) needs
    # wrapping, and since no column holds an object, the wrapper cannot be mistaken.
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"base64"}:
        try:
            return base64.b64decode(value["base64"], validate=True)
        except (ValueError, TypeError):
            raise LineError("a base64 value that does not decode") from None
    if isinstance(value, dict | list):
        raise LineError(f"a value of type {type(value).__name__} where the store wants a scalar")
    return value


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False)


def line_table(record: dict[str, Any]) -> str:
    """The table an export line belongs to (what the header's counts are keyed by)."""
    kinds = {kind: table for table, kind in CORE_KINDS.items()}
    return kinds.get(record.get("kind", ""), str(record.get("table")))


# ---------------------------------------------------------------------------------------
# import


class LineError(InputError):
    """One line of an import file cannot go in; the message says why."""


@dataclass
class ImportReport:
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    failed: list[tuple[int, str]] = field(default_factory=list)

    def count(self, table: str, status: str) -> None:
        self.counts.setdefault(table, Counter())[status] += 1

    def summary_lines(self) -> list[str]:
        lines = [
            f"{table}: added {c['added']}, updated {c['updated']}, unchanged {c['unchanged']}"
            for table, c in self.counts.items()
        ]
        lines.append(f"failed lines: {len(self.failed)}")
        return lines


def bounded_lines(stream: IO[bytes], limit: int, block: int = 1 << 16) -> Iterator[bytes | int]:
    """The lines of a binary stream; a line longer than `limit` bytes comes as its length.

    A line is never held whole past the limit, so one huge record cannot exhaust memory.
    """
    held: list[bytes] = []
    size = 0
    while chunk := stream.read(block):
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            size += end - start
            if size <= limit:
                held.append(chunk[start:end])
            yield b"".join(held) if size <= limit else size
            held, size, start = [], 0, end + 1
        size += len(chunk) - start
        if size <= limit:
            held.append(chunk[start:])
        else:
            held = []
    if size:
        yield b"".join(held) if size <= limit else size


def import_lines(
    service: Service, lines: Iterable[str | bytes | int], max_line_bytes: int | None = None
) -> ImportReport:
    """Put an export's rows into the service's store; bad lines are reported and skipped.

    `lines` may be bytes (a file opened in binary mode): then one line that is not UTF-8 is
    reported like any other bad line instead of stopping the whole import. An int stands for
    a line that was too long to read (see `bounded_lines`).
    """
    limit = max_line_bytes or service.settings.max_file_bytes
    report = ImportReport()
    numbered = ((n, line) for n, line in enumerate(lines, start=1) if _not_blank(line))
    first = next(numbered, None)
    if first is None:
        raise OperationError("the import file is empty")
    _check_header(first[1])
    store = ImportStore.of(service)
    for number, line in numbered:
        try:
            table, status = _import_record(store, _parse(line, limit))
        except LineError as exc:
            report.failed.append((number, str(exc)))
            continue
        report.count(table, status)
    return report


def _not_blank(line: str | bytes | int) -> bool:
    return isinstance(line, int) or bool(line.strip())


def _check_header(line: str | bytes | int) -> None:
    try:
        header = _parse(line, limit=1_000_000)
    except LineError:
        header = None
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise OperationError(
            "line 1 is not a sectorbot export header (was the file made by export?)"
        )
    if header.get("version") != EXPORT_VERSION:
        raise OperationError(
            f"export format version {header.get('version')!r}; this sectorbot reads "
            f"version {EXPORT_VERSION}"
        )


def _parse(line: str | bytes | int, limit: int) -> dict[str, Any]:
    size = line if isinstance(line, int) else len(line)
    if size > limit:
        raise LineError(f"the line is {format_size(size)}, over the {format_size(limit)} limit")
    assert not isinstance(line, int)
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LineError(f"not UTF-8 text (byte {exc.start + 1})") from None
    try:
        record = json.loads(line.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        raise LineError(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise LineError("JSON nested too deeply to read") from None
    if not isinstance(record, dict):
        raise LineError("not a JSON object")
    return record


def _import_record(store: ImportStore, record: dict[str, Any]) -> tuple[str, str]:
    kind = record.get("kind")
    try:
        if kind == "document":
            return "documents", _import_document(store, record)
        if kind == "feed":
            return "feeds", _import_feed(store, record)
        if kind == "row":
            return _import_row(store, record)
    except store.errors as exc:
        raise LineError(f"could not store: {one_line(str(exc))}") from None
    raise LineError(f"unknown kind {kind!r}")


def _import_document(store: ImportStore, record: dict[str, Any]) -> str:
    text = _text_field(record, "text")
    if not text.strip():
        raise LineError("document without text")
    try:
        published = parse_date(_text_field(record, "published") or None)
    except ValueError as exc:
        raise LineError(str(exc)) from None
    doc = Document(
        text=text,
        title=_text_field(record, "title"),
        url=_text_field(record, "url") or None,
        source=_text_field(record, "source"),
        author=_text_field(record, "author") or None,
        published=published,
        lang=_text_field(record, "lang") or None,
        origin_kind=_text_field(record, "origin_kind") or "import",
        origin_ref=_text_field(record, "origin_ref") or "import",
        ext_id=_text_field(record, "ext_id") or None,
        meta=_meta_field(record),
    )
    vectors = _parse_vectors(record.get("vectors"))  # a bad field fails the line up front
    sentences = _parse_sentences(record.get("vectors"))
    status, doc_id = store.upsert_document(doc)
    if status == "added":
        fetched = record.get("fetched")
        store.settle(doc_id, fetched if isinstance(fetched, str) else None)
    if status != "unchanged" and vectors:
        store.keep_vectors(doc_id, *vectors)
        if sentences:
            store.keep_sentences(doc_id, *sentences)
    return status


def _parse_sentences(field: Any) -> tuple[str, list[bytes], list[bytes]] | None:
    """The sentence spans and vectors an export line carries: (model, spans, vectors)."""
    if not isinstance(field, dict) or field.get("sentences") is None:
        return None
    part = field["sentences"]
    model, spans, vectors = part.get("model"), part.get("spans"), part.get("vectors")
    if not (isinstance(model, str) and isinstance(spans, list) and isinstance(vectors, list)):
        raise LineError("field 'vectors.sentences' needs model, spans and vectors")
    if len(spans) != len(vectors):
        raise LineError("sentence spans and vectors of different counts")
    try:
        decoded = [base64.b64decode(x, validate=True) for x in (*spans, *vectors)]
    except (ValueError, TypeError):
        raise LineError("a sentence vector that is not base64") from None
    return model, decoded[: len(spans)], decoded[len(spans) :]


def _parse_vectors(field: Any) -> tuple[str, str, list[bytes]] | None:
    """The passage vectors an export line carries: (model, backend, vectors) or None."""
    if field is None:
        return None
    if not isinstance(field, dict):
        raise LineError("field 'vectors' should be an object")
    model, backend, passages = field.get("model"), field.get("backend"), field.get("passages")
    if not (isinstance(model, str) and isinstance(backend, str) and isinstance(passages, list)):
        raise LineError("field 'vectors' needs model, backend and a list of passages")
    try:
        vectors = [base64.b64decode(p, validate=True) for p in passages]
    except (ValueError, TypeError):
        raise LineError("a passage vector that is not base64") from None
    if vectors and (len({len(v) for v in vectors}) != 1 or len(vectors[0]) % 4):
        raise LineError("passage vectors of different or odd sizes")
    return (model, backend, vectors) if vectors else None


def _meta_field(record: dict[str, Any]) -> dict[str, str]:
    """The document's extra fields: the stored JSON text (or, written by hand, an object)."""
    value = record.get("meta")
    try:
        return meta_from_json(json.dumps(value) if isinstance(value, dict) else value)
    except (ValueError, TypeError) as exc:
        raise LineError(f"field 'meta': {one_line(str(exc))}") from None


def _text_field(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise LineError(f"field '{key}' should be a string, not {type(value).__name__}")
    return value


def _import_feed(store: ImportStore, record: dict[str, Any]) -> str:
    url = _text_field(record, "url").strip()
    if not url.startswith(("http://", "https://")):
        raise LineError("feed without an http(s) url")
    row = {k: v for k, v in record.items() if k not in ("kind", "id")}
    row.setdefault("added", stamp())
    return _insert_new(store, "feeds", {**row, "url": url})


def _import_row(store: ImportStore, record: dict[str, Any]) -> tuple[str, str]:
    table, data = record.get("table"), record.get("data")
    if table not in EXTRA_TABLES:
        raise LineError(f"table {table!r} is not one that import writes")
    if not isinstance(data, dict):
        raise LineError("row without a 'data' object")
    kept = {k: _decode(v) for k, v in data.items() if k not in EXTRA_TABLES[table]}
    return table, _insert_new(store, table, kept)


def _insert_new(store: ImportStore, table: str, row: dict[str, Any]) -> str:
    """Insert a row unless one with the same key is there already (then it stays as is)."""
    added = store.insert_if_new(table, row)
    if added is None:
        raise LineError(f"no column of table {table} in this line")
    return "added" if added else "unchanged"
