"""Numbered schema migrations, applied in order when the store opens.

Each migration runs in the same transaction as the row that records it, so a database is
always at a known version. Add new ones at the end; never edit one that has shipped.

Other features keep their own lists and apply them with `apply` into the same `_migrations`
table (the alert tables: `sectorbot.bot.alerts.migrations`, which took m003, m005 and m006
from here), so a name must be unique across every list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import sqlite_utils

from sectorbot.corpus.dates import stamp
from sectorbot.corpus.models import scoped_id

Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_documents(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE documents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ext_id TEXT UNIQUE,
            url TEXT,
            canonical_url TEXT,
            title TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT '',
            author TEXT,
            published TEXT,
            fetched TEXT NOT NULL,
            lang TEXT,
            content_hash TEXT NOT NULL,
            origin_kind TEXT NOT NULL,
            origin_ref TEXT NOT NULL,
            text TEXT NOT NULL,
            word_count INTEGER NOT NULL,
            updated TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX idx_documents_canonical_url ON documents(canonical_url)")
    db.execute("CREATE INDEX idx_documents_content_hash ON documents(content_hash)")
    db.execute("CREATE INDEX idx_documents_published ON documents(published)")
    db.execute("CREATE INDEX idx_documents_origin_ref ON documents(origin_ref)")


@migration
def m002_chunks(db: sqlite_utils.Database) -> None:
    # AUTOINCREMENT: a replaced chunk's id is never reused, so the vector index can tell
    # a new passage from an old one by id alone.
    db.execute(
        """CREATE TABLE chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            text TEXT NOT NULL,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            UNIQUE (document_id, ordinal)
        )"""
    )
    # External-content FTS5 table kept in step with `chunks` by triggers.
    db.execute(
        """CREATE VIRTUAL TABLE chunks_fts USING fts5(
            text, content='chunks', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2'
        )"""
    )
    db.execute(
        """CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
        END"""
    )
    db.execute(
        """CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END"""
    )
    db.execute(
        """CREATE TRIGGER chunks_au AFTER UPDATE ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
        END"""
    )


@migration
def m004_ingest_runs(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE ingest_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            started TEXT NOT NULL,
            finished TEXT,
            targets TEXT NOT NULL,
            added INTEGER NOT NULL DEFAULT 0,
            updated INTEGER NOT NULL DEFAULT 0,
            unchanged INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute(
        """CREATE TABLE ingest_errors (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id INTEGER NOT NULL REFERENCES ingest_runs(id) ON DELETE CASCADE,
            ref TEXT NOT NULL,
            reason TEXT NOT NULL,
            at TEXT NOT NULL
        )"""
    )


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """An explicit transaction that also covers DDL (sqlite3 would autocommit those)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def apply(
    db: sqlite_utils.Database, listed: Sequence[tuple[str, Migration]] = MIGRATIONS
) -> list[str]:
    """Apply every migration of `listed` the database has not seen; return the names applied."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied TEXT)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
    applied = []
    for name, fn in listed:
        if name in done:
            continue
        with transaction(db):
            fn(db)
            db.execute("INSERT INTO _migrations (name, applied) VALUES (?, ?)", [name, stamp()])
        applied.append(name)
    return applied


@migration
def m007_stamps_in_milliseconds(db: sqlite_utils.Database) -> None:
    # Bookkeeping times were written to the second here and to the millisecond by alerts;
    # one format (`dates.stamp`) keeps string comparisons between them right.
    stamped = {
        "documents": ("fetched", "updated"),
        "ingest_runs": ("started", "finished"),
        "ingest_errors": ("at",),
        "_migrations": ("applied",),
    }
    for table, columns in stamped.items():
        for column in columns:
            db.execute(
                f"UPDATE {table} SET {column} = {column} || '.000' WHERE length({column}) = 19"
            )


@migration
def m012_namespaced_ids(db: sqlite_utils.Database) -> None:
    # Feed guids and JSONL ids were stored bare, so one feed or file could overwrite another's
    # documents by reusing an id. They move under the prefix of their feed (the origin_ref of
    # a feed document) or of their JSONL source, the form the loaders now write, so that the
    # same feed or file ingested again finds them. OR IGNORE leaves a row as it is in the
    # (contrived) case where its new id is taken already, rather than fail to open the store.
    rows = db.execute(
        "SELECT id, ext_id, origin_kind, origin_ref, source FROM documents "
        "WHERE ext_id IS NOT NULL AND origin_kind IN ('feed', 'jsonl')"
    ).fetchall()
    renamed = []
    for doc_id, ext_id, kind, origin_ref, source in rows:
        scoped = scoped_id(kind, origin_ref if kind == "feed" else source, ext_id)
        if scoped != ext_id:
            renamed.append((scoped, doc_id))
    db.conn.executemany("UPDATE OR IGNORE documents SET ext_id = ? WHERE id = ?", renamed)
