"""Numbered schema migrations, applied in order when the store opens.

Each migration runs in the same transaction as the row that records it, so a database is
always at a known version. Add new ones at the end; never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
def m003_feeds(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE feeds (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            url TEXT NOT NULL UNIQUE,
            title TEXT,
            added TEXT NOT NULL,
            added_by TEXT,
            etag TEXT,
            last_modified TEXT,
            last_polled TEXT,
            last_ok TEXT,
            last_error TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            next_poll TEXT,
            active INTEGER NOT NULL DEFAULT 1
        )"""
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


def apply(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration the database has not seen; return the names applied."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied TEXT)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        with transaction(db):
            fn(db)
            db.execute("INSERT INTO _migrations (name, applied) VALUES (?, ?)", [name, stamp()])
        applied.append(name)
    return applied


@migration
def m005_subscriptions(db: sqlite_utils.Database) -> None:
    # One row per chat the bot alerts: its delivery preferences and whether it still can be
    # reached (a chat that blocked or removed the bot is kept, inactive, with the reason).
    db.execute(
        """CREATE TABLE chats (
            chat_id INTEGER PRIMARY KEY,
            type TEXT NOT NULL,
            title TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            deactivated_reason TEXT,
            deactivated_at TEXT,
            digest_hours INTEGER NOT NULL DEFAULT 0,
            quiet_start INTEGER,
            quiet_end INTEGER,
            utc_offset INTEGER NOT NULL DEFAULT 0,
            last_sent TEXT,
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        )"""
    )
    # `value` is what the user typed; `normalized` is what matching uses (a place id, a
    # folded keyword, or the topic text) and makes a repeated subscription a no-op.
    db.execute(
        """CREATE TABLE subscriptions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            chat_id INTEGER NOT NULL
                REFERENCES chats(chat_id) ON DELETE CASCADE ON UPDATE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('place', 'keyword', 'topic')),
            value TEXT NOT NULL,
            normalized TEXT NOT NULL,
            vector BLOB,
            model TEXT,
            created TEXT NOT NULL,
            created_by INTEGER,
            UNIQUE (chat_id, kind, normalized)
        )"""
    )
    db.execute("CREATE INDEX idx_subscriptions_kind ON subscriptions(kind)")


@migration
def m006_alerts(db: sqlite_utils.Database) -> None:
    # The outbox. UNIQUE (chat_id, document_id) is the exactly-once guarantee: however often
    # a document is matched (a re-poll, a restart mid-run), a chat gets one row for it.
    db.execute(
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            chat_id INTEGER NOT NULL
                REFERENCES chats(chat_id) ON DELETE CASCADE ON UPDATE CASCADE,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            subscription_id INTEGER REFERENCES subscriptions(id) ON DELETE SET NULL,
            matched TEXT NOT NULL,
            excerpt TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt TEXT NOT NULL,
            last_error TEXT,
            sent_at TEXT,
            message_id INTEGER,
            UNIQUE (chat_id, document_id)
        )"""
    )
    db.execute("CREATE INDEX idx_alerts_due ON alerts(status, next_attempt)")
    db.execute("CREATE INDEX idx_alerts_sent_at ON alerts(sent_at)")
    # Documents that still have to be matched against the subscriptions. The trigger fills it
    # in the same transaction that inserts a feed document, so a crash between storing and
    # matching cannot lose an alert; only inserts fire it, so an edited entry never alerts.
    db.execute(
        """CREATE TABLE alert_inbox (
            document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
            added TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TRIGGER documents_alert_inbox AFTER INSERT ON documents
        WHEN new.origin_kind = 'feed' BEGIN
            INSERT OR IGNORE INTO alert_inbox (document_id, added) VALUES (new.id, new.fetched);
        END"""
    )


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
def m008_namespaced_ids(db: sqlite_utils.Database) -> None:
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
