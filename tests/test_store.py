import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from sectorbot.corpus import migrations
from sectorbot.corpus.models import Document
from sectorbot.corpus.store import Store
from sectorbot.corpus.urls import canonical_url

TEXT = "Russian forces advanced toward Pokrovsk along the highway. " * 40


def doc(**kw: object) -> Document:
    base = {"text": TEXT, "title": "Advance", "url": "https://example.org/a", "source": "ISW",
            "origin_kind": "url", "origin_ref": "https://example.org/a"}  # fmt: skip
    base.update(kw)
    return Document(**base)  # type: ignore[arg-type]


def fts_ids(store: Store, term: str) -> list[int] | None:
    """The SQLite full-text index's passages for a term (None on PostgreSQL, which has none)."""
    if store.dialect != "sqlite":
        return None
    rows = store.db.query("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", [term])
    return sorted(r["rowid"] for r in rows)


def test_fresh_schema(store: Store) -> None:
    tables = set(store.db.tables())
    assert {"documents", "chunks", "chunk_vectors", "ingest_runs", "ingest_errors"} <= tables
    assert "feeds" not in tables  # the alerts layer makes its own tables (tests/test_alerts.py)
    assert store.db.columns("documents") == [
        "id", "ext_id", "url", "canonical_url", "title", "source", "author", "published",
        "fetched", "lang", "content_hash", "origin_kind", "origin_ref", "text", "word_count",
        "updated", "meta",
    ]  # fmt: skip
    assert store.db.columns("chunks") == [
        "id", "document_id", "ordinal", "text", "char_start", "char_end"
    ]  # fmt: skip
    applied = [
        tuple(r.values()) for r in store.db.query("SELECT migration_set, name FROM _migrations")
    ]
    assert applied == [("corpus", name) for name in migrations.MIGRATIONS.names()]
    if store.dialect == "sqlite":
        assert "chunks_fts" in tables
        assert store.db.utils["documents"].columns_dict["word_count"] is int


def test_older_database_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied TEXT)")
    for name, fn in migrations.MIGRATIONS.steps[:2]:  # named then as they are now
        fn(db, migrations.SQLITE)
        db.execute("INSERT INTO _migrations VALUES (?, 'then')", [name])
    db.execute(
        "INSERT INTO documents (title, fetched, content_hash, origin_kind, origin_ref, text, "
        "word_count, updated) VALUES ('kept', 'x', 'h', 'text', 'r', 'body', 1, 'x')"
    )
    db.conn.close()
    store = Store(path)
    assert store.db.scalar("SELECT title FROM documents") == "kept"
    assert "ingest_runs" in store.db.tables()
    assert store.db.scalar("SELECT count(*) FROM _migrations") == len(migrations.MIGRATIONS.steps)
    store.close()


def test_a_migration_set_takes_only_its_next_number() -> None:
    fresh = migrations.MigrationSet("corpus")
    fresh.migration(migrations.m001_documents)
    with pytest.raises(ValueError, match=r"m001_documents should be m002_\.\.\."):
        fresh.migration(migrations.m001_documents)
    with pytest.raises(ValueError, match=r"m003_ingest_runs should be m002_\.\.\."):
        fresh.migration(migrations.m003_ingest_runs)
    assert fresh.names() == ["m001_documents"]


def test_times_written_to_the_second_gain_milliseconds(isolated_env: Path) -> None:
    store = Store(isolated_env / "old.db")
    store.upsert_document(doc())
    store.start_ingest_run("[]")
    store.db.execute("UPDATE documents SET fetched = '2025-03-01T10:00:00', updated = '2025-03-02'")
    store.db.execute("UPDATE ingest_runs SET started = '2025-03-01T10:00:05'")
    store.db.execute(
        "DELETE FROM _migrations "
        "WHERE migration_set = 'corpus' AND name = 'm004_stamps_in_milliseconds'"
    )
    store.close()
    again = Store(store.path)
    row = again.db.query("SELECT fetched, updated FROM documents")[0]
    # A day alone is a different kind of value and stays as it is.
    assert row == {"fetched": "2025-03-01T10:00:00.000", "updated": "2025-03-02"}
    assert again.db.scalar("SELECT started FROM ingest_runs") == "2025-03-01T10:00:05.000"
    stamps = [r["applied"] for r in again.db.query("SELECT applied FROM _migrations")]
    assert all(len(s) == len("2025-03-01T10:00:05.000") for s in stamps), stamps
    again.close()


def test_same_document_twice_changes_nothing(store: Store) -> None:
    assert store.upsert_document(doc())[0] == "added"
    before = store.chunk_ids()
    first = store.document_ids()[0]
    assert store.upsert_document(doc(url="https://www.example.org/a/?utm_source=x#top")) == (
        "unchanged",
        first,
    )
    assert store.chunk_ids() == before


def test_changed_document_is_updated_in_place(store: Store) -> None:
    _, doc_id = store.upsert_document(doc())
    old_chunks = store.chunk_ids()
    status, same_id = store.upsert_document(doc(text=TEXT + " Myrnohrad was shelled."))
    assert (status, same_id) == ("updated", doc_id)
    assert store.db.scalar("SELECT count(*) FROM documents") == 1
    new_chunks = store.chunk_ids()
    assert not set(old_chunks) & set(new_chunks)  # replaced, never reused
    if store.dialect == "sqlite":
        assert fts_ids(store, "myrnohrad") and set(fts_ids(store, "pokrovsk")) == set(new_chunks)


def test_metadata_change_updates_without_rechunking(store: Store) -> None:
    store.upsert_document(doc())
    chunks = store.chunk_ids()
    assert store.upsert_document(doc(published="2025-01-02"))[0] == "updated"
    assert store.chunk_ids() == chunks
    assert store.db.scalar("SELECT published FROM documents") == "2025-01-02"


def test_same_text_under_another_url_is_not_duplicated(store: Store) -> None:
    store.upsert_document(doc())
    status, _ = store.upsert_document(doc(url="https://mirror.example.net/copy"))
    assert status == "unchanged"
    assert store.db.scalar("SELECT count(*) FROM documents") == 1


def test_ext_id_identifies_a_document(store: Store) -> None:
    store.upsert_document(doc(ext_id="web:1", url=None))
    assert store.upsert_document(doc(ext_id="web:1", url=None, title="New title"))[0] == "updated"
    assert store.db.scalar("SELECT title FROM documents WHERE ext_id = 'web:1'") == "New title"


def test_failed_write_leaves_nothing_half_stored(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.upsert_document(doc())

    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store, "_write_chunks", broken)
    with pytest.raises(OSError):
        store.upsert_document(doc(url="https://example.org/b", text="Other text. " * 50))
    with pytest.raises(OSError):
        store.upsert_document(doc(text=TEXT + " changed"))
    assert store.db.scalar("SELECT count(*) FROM documents") == 1
    assert store.db.scalar("SELECT content_hash FROM documents") == doc().content_hash
    assert store.db.scalar("SELECT count(*) FROM chunks") > 0


def test_delete_cascades_to_chunks_and_fts(store: Store) -> None:
    _, doc_id = store.upsert_document(doc())
    assert store.delete_document(doc_id)
    assert store.chunk_ids() == []
    assert fts_ids(store, "pokrovsk") in ([], None)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://www.Reuters.com/world/x/?utm_source=tw&b=2&a=1#frag", "https://reuters.com/world/x?a=1&b=2"),
        ("http://example.org:80/", "http://example.org/"),
        ("https://example.org/a?fbclid=1&id=7", "https://example.org/a?id=7"),
        ("not a url", None),
    ],
)  # fmt: skip
def test_canonical_url(url: str, canonical: str | None) -> None:
    assert canonical_url(url) == canonical


def test_a_documents_extra_fields_are_kept(store: Store) -> None:
    doc = Document(
        text="Drones struck a fuel depot near Pokrovsk overnight, the brigade said.",
        title="Depot struck",
        source="Brigade channel",
        url="https://example.org/depot",
        meta={"forward_origin": "channel", "tags": "drones, logistics"},
    )
    status, doc_id = store.upsert_document(doc)
    assert status == "added"
    row = store.document(doc_id)
    assert row is not None
    assert json.loads(row["meta"]) == {"forward_origin": "channel", "tags": "drones, logistics"}
    assert store.upsert_document(doc) == ("unchanged", doc_id)
    retagged = dataclasses.replace(doc, meta={"tags": "drones"})
    assert store.upsert_document(retagged) == ("updated", doc_id)
    assert store.replace_text(doc_id, doc.text + " Two trucks burned.")
    row = store.document(doc_id)
    assert row is not None and json.loads(row["meta"]) == {"tags": "drones"}
    plain = Document(text="No extra fields here at all.", title="Plain", url="https://e.org/p")
    _, plain_id = store.upsert_document(plain)
    assert (store.document(plain_id) or {})["meta"] is None
