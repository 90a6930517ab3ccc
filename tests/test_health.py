"""Health where the state is: each feature's `health`, and `doctor` asking them.

Fast: no model is loaded (the index checks find no index, which needs no embedding).
"""

from __future__ import annotations

import ast
import sqlite3
import time
from pathlib import Path

from sectorbot.bot.alerts import health as alerts_health
from sectorbot.bot.alerts.store import AlertStore
from sectorbot.bot.feedback.store import FeedbackStore
from sectorbot.bot.ops.health import known_migrations, stored_health
from sectorbot.bot.preferences.store import PreferencesStore
from sectorbot.bot.settings import Settings
from sectorbot.bot.workers import health as workers_health
from sectorbot.bot.workers.store import WorkerStore
from sectorbot.corpus.database_file import DatabaseFile
from sectorbot.corpus.health import Check, guarded_all
from sectorbot.corpus.models import Document
from sectorbot.corpus.store import Store

REPO = Path(__file__).resolve().parent.parent


def every_feature(path: Path) -> None:
    """A database with every feature's tables, as `Service` leaves it."""
    store = Store(path)
    for feature in (AlertStore, FeedbackStore, PreferencesStore, WorkerStore):
        feature(store)
    store.close()


def test_workers_health_names_the_lease_holder_and_live_workers(store: Store) -> None:
    workers = WorkerStore(store)
    assert workers_health.health(store.db, poll_tick=5.0) == [
        Check("workers", "OK", "job lease free; no live workers")
    ]
    assert workers.acquire_lease("jobs", "host:1", time.time(), ttl=60.0)
    [check] = workers_health.health(store.db, poll_tick=5.0)
    assert check.status == "OK" and check.detail.startswith("job lease held by host:1 until ")


def test_backend_health_says_which_database(store: Store) -> None:
    check, *rest = store.db.health()
    assert check.name == "backend" and check.status == "OK"
    assert check.detail.startswith("postgresql postgresql://" if store.url else "sqlite ")
    # PostgreSQL also says whether this role may create its tables (the test role may).
    assert [(c.name, c.status) for c in rest] == ([("create", "OK")] if store.url else [])


def test_database_file_health_finds_pending_migrations_and_garbage(tmp_path: Path) -> None:
    path = tmp_path / "sectorbot.db"
    every_feature(path)
    [check] = DatabaseFile(path).health(quick=False, known=known_migrations())
    assert check.status == "OK" and "schema current" in check.detail
    assert "integrity check ok; 0 documents, 0 passages" in check.detail

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "DELETE FROM _migrations WHERE migration_set = ? AND name = ?", known_migrations()[-1]
    )
    conn.close()
    [check] = DatabaseFile(path).health(quick=True, known=known_migrations())
    assert check.status == "WARN" and "1 migrations pending" in check.detail

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    [check] = DatabaseFile(garbage).health(quick=True, known=known_migrations())
    assert check.status == "FAIL" and "cannot be read" in check.detail


def test_alerts_health_without_feeds(tmp_path: Path) -> None:
    path = tmp_path / "sectorbot.db"
    every_feature(path)
    assert alerts_health.health(DatabaseFile(path), fetch_timeout=1.0, max_bytes=1000) == [
        Check("feeds", "OK", "no active feeds")
    ]


def test_a_crashing_health_fails_each_check_it_owns() -> None:
    def broken() -> list[Check]:
        raise RuntimeError("the disk\nis gone")

    assert guarded_all(["index", "lexical"], broken) == [
        Check("index", "FAIL", "check crashed: RuntimeError: the disk is gone"),
        Check("lexical", "FAIL", "check crashed: RuntimeError: the disk is gone"),
    ]


def test_stored_health_asks_each_feature_and_changes_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    assert [(c.name, c.status) for c in stored_health(settings, quick=True)] == [
        ("database", "WARN")  # no database yet: nothing else to ask
    ]
    every_feature(settings.db_path)
    before = settings.db_path.read_bytes()
    checks = stored_health(settings, quick=True)
    assert [(c.name, c.status) for c in checks] == [
        ("database", "OK"), ("backend", "OK"), ("workers", "OK"), ("index", "OK"),
        ("lexical", "OK"),
    ]  # fmt: skip
    assert checks[3].detail == "no passages yet, so no index needed"
    assert settings.db_path.read_bytes() == before


def report(n: int) -> Document:
    text = f"Report {n}. Shelling near Pokrovsk continued through the night. " * 3
    return Document(text=text, title=f"Report {n}", source="test", origin_kind="text",
                    origin_ref=f"report-{n}.txt")  # fmt: skip


def test_the_stores_answer_for_what_they_hold(store: Store) -> None:
    assert store.health() == [
        Check("store", "OK", "0 documents, 0 passages, last ingest never"),
        Check("vectors", "OK", "0 of 0 passages have a stored vector"),
    ]
    store.upsert_document(report(1))
    ids = store.chunk_ids()
    [corpus, vectors] = store.health()
    assert corpus == Check("store", "OK", f"1 documents, {len(ids)} passages, last ingest never")
    assert vectors.status == "WARN" and "the next reindex embeds the rest" in vectors.detail
    store.vectors.store_vectors([(i, bytes(16)) for i in ids], "m", "torch")
    assert store.health()[1] == Check(
        "vectors", "OK", f"{len(ids)} of {len(ids)} passages have a stored vector"
    )


def test_the_feature_stores_answer_for_what_they_hold(store: Store) -> None:
    [outbox] = AlertStore(store).health("2025-03-02T00:00:00.000", "2025-03-01T00:00:00.000")
    assert outbox == Check(
        "outbox", "OK", "0 pending (0 due), 0 sent in 24 h, 0 given up; 0 subscriptions in 0 chats"
    )
    assert FeedbackStore(store).health() == [Check("feedback", "OK", "0 votes, 0 of them 👎")]
    preferences = PreferencesStore(store)
    preferences.set_chat_language(42, "uk", "2025-03-01T00:00:00.000")
    assert preferences.health() == [Check("preferences", "OK", "1 chats chose a language")]


def test_features_without_a_line_of_their_own_speak_up_only_when_not_ok(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    every_feature(settings.db_path)
    store = Store(settings.db_path)
    store.upsert_document(report(1))
    store.close()
    checks = {c.name: c for c in stored_health(settings, quick=True)}
    assert list(checks) == ["database", "backend", "workers", "index", "lexical", "vectors"]
    assert checks["vectors"].status == "WARN" and checks["index"].status == "WARN"


def test_doctor_opens_no_store_itself() -> None:
    """doctor asks `bot.ops.health`; it imports nothing that opens a database or an index."""
    tree = ast.parse((REPO / "bot" / "ops" / "doctor.py").read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    openers = {"Store", "DatabaseFile", "open_database", "VectorIndex", "LexicalIndex"}
    assert not imported & openers
