"""The corpus store: documents, their chunks (passages) and ingest runs.

The store is the source of truth; everything else (the vector index) is derived from it. It
lives in SQLite by default or in PostgreSQL (`corpus.database` holds what differs and the
general SQL helpers). The passages' vectors have their own store, reached as `store.vectors`.
Each document is written in one transaction, so a crash never leaves half a document.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sectorbot.corpus import migrations
from sectorbot.corpus.chunking import chunk_text, word_count
from sectorbot.corpus.database import STORE_LOCK, Database, is_url, open_database
from sectorbot.corpus.dates import stamp
from sectorbot.corpus.errors import StoreError
from sectorbot.corpus.figure_store import FigureStore
from sectorbot.corpus.health import Check
from sectorbot.corpus.models import Chunk, Document, FigureReader, meta_from_json, meta_json
from sectorbot.corpus.text import one_line
from sectorbot.corpus.urls import canonical_url
from sectorbot.corpus.vector_store import VectorStore

Status = Literal["added", "updated", "unchanged"]
META_FIELDS = ("url", "title", "source", "author", "published", "lang")
LISTING = "id, title, source, published, url"  # what a list of reports shows of each


@dataclass(frozen=True)
class StoredChunk:
    """A chunk joined with what a citation needs from its document."""

    id: int
    document_id: int
    ordinal: int
    text: str
    char_start: int
    char_end: int
    title: str
    source: str
    url: str | None
    published: str | None
    ext_id: str | None
    lang: str | None


CHUNK_SELECT = """SELECT c.id, c.document_id, c.ordinal, c.text, c.char_start, c.char_end,
    d.title, d.source, d.url, d.published, d.ext_id, d.lang
    FROM chunks c JOIN documents d ON d.id = c.document_id"""


class Store:
    """One database (a SQLite file or a PostgreSQL URL); safe to share between threads."""

    def __init__(self, target: Path | str, figures: FigureReader | None = None) -> None:
        self.target = str(target)  # what opens the same store again
        self.url = str(target) if is_url(target) else None
        self.path = None if self.url else Path(target)
        try:
            self.db: Database = open_database(target)
        except OSError as exc:
            raise StoreError(f"cannot use {self.path}: {exc.strerror or exc}") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(_database_problem(Path(target), exc)) from None
        self.lock = self.db.lock
        self.vectors = VectorStore(self.db)  # passage and sentence vectors, beside the passages
        # Daily counts the reports state, read with the passages; `figures` is what reads them.
        self.figures = FigureStore(self.db, figures)
        try:
            with self.lock:
                migrations.MIGRATIONS.apply(self.db)
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise StoreError(_database_problem(Path(target), exc)) from None
        except self.db.errors as exc:
            self.db.close()
            reason = one_line(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            hint = "; `sectorbot doctor` names the fix" if "permission denied" in reason else ""
            raise StoreError(f"cannot prepare the database: {reason}{hint}") from None

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def close(self) -> None:
        self.db.close()

    def transaction(self, lock: str | None = STORE_LOCK) -> AbstractContextManager[None]:
        """One write transaction (see `Database.transaction` on `lock`)."""
        return self.db.transaction(lock)

    # documents -------------------------------------------------------------------------

    def find_existing(self, doc: Document) -> dict[str, Any] | None:
        """The stored document this one is a version of: same id, canonical URL or origin."""
        canon = canonical_url(doc.url)
        probes: list[tuple[str, Any]] = []
        if doc.ext_id:
            probes.append(("ext_id = ?", doc.ext_id))
        if doc.ext_id and doc.origin_kind == "jsonl":
            probes = probes[:1]  # a bulk record's id is its identity, even if URLs repeat
        elif canon:
            probes.append(("canonical_url = ?", canon))
        if not doc.ext_id and not canon and doc.origin_kind in ("markdown", "text", "html", "pdf"):
            probes.append(("origin_ref = ?", doc.origin_ref))
        for where, value in probes:
            rows = self.db.query(f"SELECT * FROM documents WHERE {where} LIMIT 1", [value])
            if rows:
                return rows[0]
        return None

    def document_id_for(self, ext_id: str) -> int | None:
        """The id of the document stored under this (scoped) ext_id, if there is one."""
        value = self.db.scalar("SELECT id FROM documents WHERE ext_id = ?", [ext_id])
        return None if value is None else int(value)

    def upsert_document(self, doc: Document) -> tuple[Status, int]:
        """Store a document once: add it, update it in place, or leave it unchanged."""
        scoped = doc.scoped_ext_id()
        if scoped != doc.ext_id:  # a bare feed or JSONL id, as older exports carry them
            doc = dataclasses.replace(doc, ext_id=scoped)
        digest = doc.content_hash
        with self.transaction():
            existing = self.find_existing(doc)
            if existing is None:
                twin = self.db.query(
                    "SELECT id FROM documents WHERE content_hash = ? LIMIT 1", [digest]
                )
                if twin:  # the same text under another address: one document, not two
                    return "unchanged", twin[0]["id"]
                return "added", self._insert(doc, digest)
            if not self._may_change(existing, doc):
                return "unchanged", existing["id"]
            if existing["content_hash"] == digest:
                if self._same_meta(existing, doc):
                    return "unchanged", existing["id"]
                self._update_meta(existing["id"], doc)
                return "updated", existing["id"]
            self._replace(existing["id"], doc, digest)
            return "updated", existing["id"]

    @staticmethod
    def _may_change(row: dict[str, Any], doc: Document) -> bool:
        """Whether `doc` may change the stored document it was matched with.

        A feed entry that matched by its link a document from elsewhere (another feed, a
        file, a page) names that article, but its author does not own it: the stored
        version stays, and the entry counts as seen, so it does not alert twice either.
        """
        if doc.origin_kind != "feed" or (row["ext_id"] and row["ext_id"] == doc.ext_id):
            return True
        return row["origin_kind"] == "feed" and row["origin_ref"] == doc.origin_ref

    @staticmethod
    def _same_meta(row: dict[str, Any], doc: Document) -> bool:
        # The same page reached through a tracking link is not a change.
        if row["canonical_url"] != canonical_url(doc.url):
            return False
        fields = [f for f in META_FIELDS if f != "url"]
        same = all((row[f] or None) == (getattr(doc, f) or None) for f in fields)
        return same and row["meta"] == meta_json(doc.meta)

    def _row(self, doc: Document, digest: str) -> dict[str, Any]:
        now = stamp()
        return {
            "ext_id": doc.ext_id,
            "url": doc.url,
            "canonical_url": canonical_url(doc.url),
            "title": doc.title,
            "source": doc.source,
            "author": doc.author,
            "published": doc.published,
            "fetched": now,
            "lang": doc.lang,
            "content_hash": digest,
            "origin_kind": doc.origin_kind,
            "origin_ref": doc.origin_ref,
            "text": doc.text,
            "meta": meta_json(doc.meta),
            "word_count": word_count(doc.text),
            "updated": now,
        }

    def _insert(self, doc: Document, digest: str) -> int:
        row = self._row(doc, digest)
        cols = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        sql = f"INSERT INTO documents ({cols}) VALUES ({marks}) RETURNING id"
        doc_id = int(self.db.execute(sql, row).fetchone()[0])
        self._write_chunks(doc_id, chunk_text(doc.text))
        self.figures.write(doc_id, doc.text, doc.published)
        return doc_id

    def _update_meta(self, doc_id: int, doc: Document) -> None:
        sets = ", ".join(f"{f} = :{f}" for f in META_FIELDS)
        values = {f: getattr(doc, f) for f in META_FIELDS}
        values.update(
            id=doc_id, canonical_url=canonical_url(doc.url), meta=meta_json(doc.meta),
            updated=stamp(),
        )  # fmt: skip
        self.db.execute(
            f"UPDATE documents SET {sets}, canonical_url = :canonical_url, meta = :meta, "
            "updated = :updated WHERE id = :id",
            values,
        )
        self.figures.write(doc_id, doc.text, doc.published)  # a new date moves its figures

    def _replace(self, doc_id: int, doc: Document, digest: str) -> None:
        row = self._row(doc, digest)
        row.pop("fetched")
        sets = ", ".join(f"{k} = :{k}" for k in row)
        self.db.execute(f"UPDATE documents SET {sets} WHERE id = :id", {**row, "id": doc_id})
        self.db.execute("DELETE FROM chunks WHERE document_id = ?", [doc_id])
        self._write_chunks(doc_id, chunk_text(doc.text))
        self.figures.write(doc_id, doc.text, doc.published)

    def _write_chunks(self, doc_id: int, chunks: list[Chunk]) -> None:
        self.db.executemany(
            "INSERT INTO chunks (document_id, ordinal, text, char_start, char_end) "
            "VALUES (?, ?, ?, ?, ?)",
            [(doc_id, c.ordinal, c.text, c.start, c.end) for c in chunks],
        )

    def document_ids(self) -> list[int]:
        return [r["id"] for r in self.db.query("SELECT id FROM documents ORDER BY id")]

    def replace_text(self, doc_id: int, text: str) -> bool:
        """Store new text for a document under the same id (its passages are cut again);
        False when the document is gone or the text reads the same."""
        row = self.document(doc_id)
        if row is None:
            return False
        doc = Document(text=text, title=row["title"] or "", url=row["url"],
                       source=row["source"] or "", author=row["author"],
                       published=row["published"], lang=row["lang"],
                       origin_kind=row["origin_kind"] or "", origin_ref=row["origin_ref"] or "",
                       ext_id=row["ext_id"], meta=meta_from_json(row["meta"]))  # fmt: skip
        digest = doc.content_hash
        if digest == row["content_hash"]:
            return False
        with self.transaction():
            self._replace(doc_id, doc, digest)
        return True

    def delete_document(self, doc_id: int) -> bool:
        with self.transaction():
            cursor = self.db.execute("DELETE FROM documents WHERE id = ?", [doc_id])
        return cursor.rowcount > 0

    def document_count(self) -> int:
        return int(self.db.scalar("SELECT count(*) FROM documents") or 0)

    def has_documents(self) -> bool:
        """Whether any report is stored (without counting them all)."""
        return self.db.scalar("SELECT 1 FROM documents LIMIT 1") is not None

    def newest_published(self) -> str | None:
        """The publication date of the newest dated report."""
        value = self.db.scalar("SELECT max(published) FROM documents")
        return None if value is None else str(value)

    def newest_documents(self, limit: int) -> list[dict[str, Any]]:
        """The newest documents by publication date (undated last), as listing rows."""
        return self.db.query(
            f"SELECT {LISTING} FROM documents "
            "ORDER BY coalesce(published, '') DESC, id DESC LIMIT ?",
            [limit],
        )

    def document_rows(self, doc_ids: Iterable[int]) -> list[dict[str, Any]]:
        """Listing rows of the given documents, in the order given; unknown ids left out."""
        ids = list(dict.fromkeys(doc_ids))
        found: dict[int, dict[str, Any]] = {}
        keys = LISTING.split(", ")
        for rows in self.db.rows_in(f"SELECT {LISTING} FROM documents WHERE id IN ({{ids}})", ids):
            found.update({r[0]: dict(zip(keys, r, strict=True)) for r in rows})
        return [found[i] for i in ids if i in found]

    def set_fetched(self, doc_id: int, fetched: str) -> None:
        """When a document was first fetched (an import keeps the original time)."""
        with self.transaction():
            self.db.execute("UPDATE documents SET fetched = ? WHERE id = ?", [fetched, doc_id])

    def language_of(self, ref: str) -> tuple[str | None, str] | None:
        """(stored language, title) of the document an eval question names by its id (as
        given or scoped) or URL; None when no document has that reference."""
        rows = self.db.query(
            "SELECT lang, title FROM documents WHERE ext_id = ? OR ext_id LIKE ? OR url = ? "
            "ORDER BY id LIMIT 1",
            [ref, f"%:{ref}", ref],
        )
        return (rows[0]["lang"], rows[0]["title"] or "") if rows else None

    def document(self, doc_id: int) -> dict[str, Any] | None:
        rows = self.db.query("SELECT * FROM documents WHERE id = ?", [doc_id])
        return rows[0] if rows else None

    # chunks ----------------------------------------------------------------------------

    def chunk_ids(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT id FROM chunks ORDER BY id").fetchall()]

    def chunk_count(self, after: int = 0) -> int:
        """How many passages are stored (with ids above `after`)."""
        return int(self.db.scalar("SELECT count(*) FROM chunks WHERE id > ?", [after]) or 0)

    def last_chunk_id_assigned(self) -> int:
        """The highest chunk id ever given out; ids are never reused, even after deletes."""
        return self.db.last_id_assigned("chunks")

    def chunk_texts_after(self, chunk_id: int, limit: int) -> list[tuple[int, str]]:
        """(id, text) of the chunks with ids above `chunk_id`, in id order."""
        rows = self.db.execute(
            "SELECT id, text FROM chunks WHERE id > ? ORDER BY id LIMIT ?", [chunk_id, limit]
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def change_marker(self) -> tuple[int, int]:
        """Moves whenever the stored documents may have changed, by any process."""
        return self.db.change_marker()

    def chunks_by_ids(self, ids: Iterable[int]) -> dict[int, StoredChunk]:
        out: dict[int, StoredChunk] = {}
        for rows in self.db.rows_in(f"{CHUNK_SELECT} WHERE c.id IN ({{ids}})", ids):
            out.update({r[0]: StoredChunk(*r) for r in rows})
        return out

    def chunk_dates_sources(self, ids: Iterable[int]) -> dict[int, tuple[str | None, str]]:
        """Published date and publisher per chunk id, without reading the text."""
        sql = (
            "SELECT c.id, d.published, d.source FROM chunks c "
            "JOIN documents d ON d.id = c.document_id WHERE c.id IN ({ids})"
        )
        out: dict[int, tuple[str | None, str]] = {}
        for rows in self.db.rows_in(sql, ids):
            out.update({r[0]: (r[1], r[2]) for r in rows})
        return out

    def iter_chunk_texts(self, ids: list[int], batch: int = 256) -> Iterator[list[tuple[int, str]]]:
        sql = "SELECT id, text FROM chunks WHERE id IN ({ids}) ORDER BY id"
        for rows in self.db.rows_in(sql, ids, batch=batch):
            yield [(r[0], r[1]) for r in rows]

    def passage_ids(self, doc_id: int) -> list[int]:
        """A document's passage ids in reading order."""
        sql = "SELECT id FROM chunks WHERE document_id = ? ORDER BY ordinal"
        return [r[0] for r in self.db.execute(sql, [doc_id]).fetchall()]

    # ingest runs -----------------------------------------------------------------------

    def start_ingest_run(self, targets_json: str) -> int:
        with self.transaction():
            row = self.db.execute(
                "INSERT INTO ingest_runs (started, targets) VALUES (?, ?) RETURNING id",
                [stamp(), targets_json],
            ).fetchone()
        return int(row[0])

    def finish_ingest_run(
        self, run_id: int, counts: tuple[int, int, int, int], errors: list[tuple[str, str]]
    ) -> None:
        """Record a run's end: (added, updated, unchanged, failed) and each failure's reason."""
        now = stamp()
        with self.transaction():
            self.db.execute(
                "UPDATE ingest_runs SET finished = ?, added = ?, updated = ?, unchanged = ?, "
                "failed = ? WHERE id = ?",
                [now, *counts, run_id],
            )
            self.db.executemany(
                "INSERT INTO ingest_errors (run_id, ref, reason, at) VALUES (?, ?, ?, ?)",
                [(run_id, ref, reason, now) for ref, reason in errors],
            )

    # numbers ---------------------------------------------------------------------------

    def counts(self) -> dict[str, Any]:
        return {
            "documents": self.db.scalar("SELECT count(*) FROM documents"),
            "chunks": self.db.scalar("SELECT count(*) FROM chunks"),
            "first_published": self.db.scalar("SELECT min(published) FROM documents"),
            "last_published": self.db.scalar("SELECT max(published) FROM documents"),
            "last_ingest": self.db.scalar("SELECT max(finished) FROM ingest_runs"),
        }

    def health(self) -> list[Check]:
        """The "store" check (the database answers, and what it holds), then the vectors'."""
        numbers = self.counts()
        detail = (
            f"{numbers['documents']} documents, {numbers['chunks']} passages, "
            f"last ingest {numbers['last_ingest'] or 'never'}"
        )
        return [Check("store", "OK", detail), *self.vectors.health(int(numbers["chunks"] or 0))]


def _database_problem(path: Path, exc: sqlite3.DatabaseError) -> str:
    reason = str(exc)
    if "readonly" in reason or "unable to open" in reason:
        return f"cannot open {path} for writing ({reason}): is the data directory read-only?"
    return (
        f"{path} is not a usable sectorbot database ({reason}): `sectorbot doctor` checks it; "
        "restore a backup or move the file away to start afresh"
    )
