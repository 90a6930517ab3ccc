"""Numbered schema migrations, applied in order when the store opens.

Each migration runs in the same transaction as the row that records it, so a database is
always at a known version. Add new ones at the end; never edit one that has shipped.

Other features keep their own lists and apply them with `apply` into the same `_migrations`
table (the alert tables: `sectorbot.bot.alerts.migrations`, which took m003, m005 and m006
from here), so a name must be unique across every list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sectorbot.corpus.database import Database
from sectorbot.corpus.dates import stamp
from sectorbot.corpus.models import scoped_id

Migration = Callable[[Database], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_documents(db: Database) -> None:
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
def m002_chunks(db: Database) -> None:
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
def m004_ingest_runs(db: Database) -> None:
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


def apply(
    db: Database,
    listed: Sequence[tuple[str, Migration]] | None = None,
    pg_listed: Sequence[tuple[str, Migration]] | None = None,
) -> list[str]:
    """Apply every migration the database has not seen; return the names applied.

    `listed` is for SQLite, `pg_listed` for PostgreSQL (a fresh PostgreSQL database starts
    from the current schema; data comes over by `export` and `import`). Each migration runs
    in one write transaction with the row that records it, and the check for it runs in the
    same transaction, so two processes opening a new database apply it once.
    """
    if listed is None:
        listed, pg_listed = MIGRATIONS, PG_MIGRATIONS
    chosen = pg_listed if db.dialect == "postgresql" else listed
    create = "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied TEXT)"
    if db.dialect == "postgresql":  # two processes starting at once would both create it
        with db.transaction():
            db.execute(create)
    else:  # outside a write transaction: a read-only file that has the table still opens
        db.execute(create)
    done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
    applied = []
    for name, fn in chosen or ():
        if name in done:
            continue
        with db.transaction():
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", [name]).fetchone():
                continue  # another process applied it meanwhile
            fn(db)
            db.execute("INSERT INTO _migrations (name, applied) VALUES (?, ?)", [name, stamp()])
        applied.append(name)
    return applied


@migration
def m007_stamps_in_milliseconds(db: Database) -> None:
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
def m012_namespaced_ids(db: Database) -> None:
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
    db.executemany("UPDATE OR IGNORE documents SET ext_id = ? WHERE id = ?", renamed)


@migration
def m013_vectors_and_change_counter(db: Database) -> None:
    # Each passage's embedding, stored with it: a new process builds its vector index from
    # here instead of embedding the corpus again. `model` and `backend` say what made it; a
    # vector from another model is never used.
    db.execute(
        """CREATE TABLE chunk_vectors (
            chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            backend TEXT NOT NULL,
            vector BLOB NOT NULL
        )"""
    )
    # The vectors of each passage's quotable sentences (float16 rows, with their character
    # spans as int32 pairs), for the answer composer: a new process need not embed them.
    db.execute(
        """CREATE TABLE chunk_sentences (
            chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            spans BLOB NOT NULL,
            vectors BLOB NOT NULL
        )"""
    )
    # The change marker the indexes follow: bumped by every write to documents, passages or
    # their vectors, and by nothing else (votes and rate limits write too, and are not news).
    db.execute("CREATE TABLE store_changes (id INTEGER PRIMARY KEY, counter INTEGER NOT NULL)")
    db.execute("INSERT INTO store_changes (id, counter) VALUES (1, 0)")
    for table in ("documents", "chunks", "chunk_vectors", "chunk_sentences"):
        for event in ("INSERT", "UPDATE", "DELETE"):
            db.execute(
                f"""CREATE TRIGGER {table}_{event.lower()}_counted AFTER {event} ON {table}
                BEGIN UPDATE store_changes SET counter = counter + 1 WHERE id = 1; END"""
            )


# PostgreSQL -------------------------------------------------------------------------------
# A PostgreSQL database starts at the current schema in one step per feature. Identity
# columns hand out ids that are never reused, like AUTOINCREMENT; TEXT compares byte-wise
# (COLLATE "C") as SQLite's does, so times and dates sort as strings the same on both.

PG_ID = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
PG_TEXT = 'TEXT COLLATE "C"'
PG_MIGRATIONS: list[tuple[str, Migration]] = []


def pg_migration(fn: Migration) -> Migration:
    PG_MIGRATIONS.append((fn.__name__, fn))
    return fn


@pg_migration
def pg001_corpus(db: Database) -> None:
    t = PG_TEXT
    db.execute(
        f"""CREATE TABLE documents (
            id {PG_ID},
            ext_id {t} UNIQUE,
            url {t},
            canonical_url {t},
            title {t} NOT NULL DEFAULT '',
            source {t} NOT NULL DEFAULT '',
            author {t},
            published {t},
            fetched {t} NOT NULL,
            lang {t},
            content_hash {t} NOT NULL,
            origin_kind {t} NOT NULL,
            origin_ref {t} NOT NULL,
            text {t} NOT NULL,
            word_count BIGINT NOT NULL,
            updated {t} NOT NULL
        )"""
    )
    for column in ("canonical_url", "content_hash", "published", "origin_ref"):
        db.execute(f"CREATE INDEX idx_documents_{column} ON documents({column})")
    db.execute(
        f"""CREATE TABLE chunks (
            id {PG_ID},
            document_id BIGINT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            ordinal BIGINT NOT NULL,
            text {t} NOT NULL,
            char_start BIGINT NOT NULL,
            char_end BIGINT NOT NULL,
            UNIQUE (document_id, ordinal)
        )"""
    )
    db.execute(
        f"""CREATE TABLE chunk_vectors (
            chunk_id BIGINT PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
            model {t} NOT NULL,
            backend {t} NOT NULL,
            vector BYTEA NOT NULL
        )"""
    )
    db.execute(
        f"""CREATE TABLE chunk_sentences (
            chunk_id BIGINT PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
            model {t} NOT NULL,
            spans BYTEA NOT NULL,
            vectors BYTEA NOT NULL
        )"""
    )
    db.execute(
        f"""CREATE TABLE ingest_runs (
            id {PG_ID},
            started {t} NOT NULL,
            finished {t},
            targets {t} NOT NULL,
            added BIGINT NOT NULL DEFAULT 0,
            updated BIGINT NOT NULL DEFAULT 0,
            unchanged BIGINT NOT NULL DEFAULT 0,
            failed BIGINT NOT NULL DEFAULT 0
        )"""
    )
    db.execute(
        f"""CREATE TABLE ingest_errors (
            id {PG_ID},
            run_id BIGINT NOT NULL REFERENCES ingest_runs(id) ON DELETE CASCADE,
            ref {t} NOT NULL,
            reason {t} NOT NULL,
            at {t} NOT NULL
        )"""
    )
    # The change marker: every statement that writes documents, passages or their vectors
    # bumps it, in the writer's transaction, so each process sees when its index is behind.
    db.execute("CREATE TABLE store_changes (id INTEGER PRIMARY KEY, counter BIGINT NOT NULL)")
    db.execute("INSERT INTO store_changes (id, counter) VALUES (1, 0)")
    db.execute(
        """CREATE FUNCTION bump_store_changes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE store_changes SET counter = counter + 1 WHERE id = 1;
            RETURN NULL;
        END $$"""
    )
    for table in ("documents", "chunks", "chunk_vectors", "chunk_sentences"):
        db.execute(
            f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_store_changes()"
        )
