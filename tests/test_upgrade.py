"""Upgrades: from SQLite to PostgreSQL (`sectorbot export`, then `import` with
SECTORBOT_DATABASE_URL set; the bot then answers the same, with the same sources), and in place,
from databases the previous version made (`tests/databases/old-5257093/`), on both engines."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from sectorbot.bot.alerts.store import AlertStore, ChatRef, NewSubscription
from sectorbot.bot.ops import doctor
from sectorbot.bot.ops.health import MIGRATION_SETS
from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings
from sectorbot.corpus.database import open_database
from sectorbot.corpus.dates import stamp
from sectorbot.corpus.legacy_migrations import LEGACY, UNPLACED, from_legacy
from sectorbot.corpus.models import Document
from sectorbot.corpus.store import Store
from tests.commands import SECTORBOT
from tests.conftest import free_port
from tests.test_ops import QUESTIONS, assert_header_matches, invoke, read_export
from tests.test_schema import SQLITE_ONLY, migrated, postgres_shape, sqlite_shape

OLD = Path(__file__).parent / "databases" / "old-5257093"
# What `make_old_databases.py` stored through the old code's stores, table by table.
OLD_ROWS = {
    "documents": 2, "chunks": 2, "chunk_vectors": 2, "chunk_sentences": 2, "ingest_runs": 1,
    "ingest_errors": 1, "feeds": 1, "chats": 1, "subscriptions": 1, "alerts": 1,
    "alert_inbox": 0, "feedback_answers": 1, "feedback_votes": 1, "chat_languages": 1,
    "handled_updates": 1, "store_changes": 1,
}  # fmt: skip


def with_followers(data: Path) -> None:
    """A feed and a group's subscription beside the sample corpus."""
    store = Store(data / "sectorbot.db")
    alerts = AlertStore(store)
    alerts.add_feed("https://example.org/rss", "admin", stamp())
    sub = NewSubscription("keyword", "Myrnohrad", "myrnohrad")
    alerts.add_subscriptions(ChatRef(-100123, "supergroup", "Volunteers"), [sub], 7, 10, stamp())
    store.close()


def without_ids(records: list[dict]) -> list[dict]:
    out = []
    for r in records:
        r = dict(r)
        r.pop("id", None)
        r.pop("updated", None)  # when the row was written here: the time of the import
        if r.get("kind") == "row":
            r["data"] = {k: v for k, v in r["data"].items() if k != "id"}
        out.append(r)
    return out


def test_sqlite_to_postgresql_keeps_everything_and_answers_the_same(
    sample_service_dir: Path, sample_service: Service, postgres_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    old = shutil.copytree(sample_service_dir, tmp_path / "old")
    with_followers(old)
    before = tmp_path / "before.jsonl"
    code, output = invoke("--data-dir", old, "export", "--out", before)
    assert code == 0, output

    monkeypatch.setenv("SECTORBOT_DATABASE_URL", postgres_url)
    new = tmp_path / "new"
    code, output = invoke("--data-dir", new, "import", before, "--no-index")
    assert code == 0, output
    assert "documents: added 47, updated 0, unchanged 0" in output
    code, output = invoke("--data-dir", new, "import", before, "--no-index")
    assert "documents: added 0, updated 0, unchanged 47" in output, output
    after = tmp_path / "after.jsonl"
    code, output = invoke("--data-dir", new, "export", "--out", after)
    assert code == 0, output

    (old_header, old_rows), (new_header, new_rows) = read_export(before), read_export(after)
    assert new_header["counts"] == old_header["counts"]
    assert new_header["counts"]["feeds"] == new_header["counts"]["subscriptions"] == 1
    assert_header_matches(new_header, new_rows)
    assert without_ids(new_rows) == without_ids(old_rows)
    assert not (new / "sectorbot.db").exists()  # the data went to PostgreSQL, not a file

    moved = Service(Settings(data_dir=new, database_url=postgres_url))
    try:
        assert moved.store.dialect == "postgresql"
        # The vectors came with the export, the sentences' too: the new index embeds nothing.
        assert moved.store.vectors.vector_count() == moved.store.chunk_count()
        assert moved.store.vectors.sentence_count() == moved.store.chunk_count()
        rebuilt = moved.vectors.reindex(full=True)
        assert (rebuilt.embedded, rebuilt.sentences) == (0, 0)
        for question in QUESTIONS[:3]:
            mine, theirs = moved.ask(question), sample_service.ask(question)
            assert mine.answered == theirs.answered, question
            assert [s.url for s in mine.sources] == [s.url for s in theirs.sources], question
    finally:
        moved.close()


def sectorbot(*args: str | Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SECTORBOT_DATABASE_URL": url}
    return subprocess.run([*SECTORBOT, *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_backup_with_postgresql_points_at_pg_dump(postgres_url: str, tmp_path: Path) -> None:
    done = sectorbot("--data-dir", tmp_path / "d", "backup", tmp_path / "b.db", url=postgres_url)
    assert done.returncode == 1 and "pg_dump" in done.stderr, done.stderr


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://bot:hunter2@127.0.0.1:{free_port()}/x"
    done = sectorbot("--data-dir", tmp_path / "d", "stats", url=url)
    assert done.returncode == 1, done.stderr
    assert "cannot reach postgresql://bot:***@127.0.0.1" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_vectors_in_an_export_line_are_checked_and_kept_only_where_they_fit(
    tmp_path: Path,
) -> None:
    from sectorbot.bot.ops import transfer

    service = Service(Settings(data_dir=tmp_path / "data"))
    one = base64.b64encode(b"\0" * 1536).decode()
    header = json.dumps(transfer.export_header({}))

    def line(n: int, vectors: object) -> str:
        text = f"Report {n}: drones struck the road near Pokrovsk overnight."
        return json.dumps({"kind": "document", "ext_id": f"t:{n}", "title": f"R{n}",
                           "text": text, "vectors": vectors})  # fmt: skip

    fits = {"model": "m", "backend": "torch", "passages": [one]}
    too_many = {**fits, "passages": [one, one]}
    try:
        report = transfer.import_lines(service, [
            header, line(1, fits), line(2, too_many), line(3, {**fits, "passages": ["%%"]}),
            line(4, "not an object"),
        ])  # fmt: skip
        assert [n for n, _ in report.failed] == [4, 5]
        assert "not base64" in report.failed[0][1] and "object" in report.failed[1][1]
        assert service.store.document_count() == 2  # a failed line stores nothing
        kept = service.store.vectors.stored_vectors(service.store.chunk_ids(), "m", "torch")
        assert len(kept) == 1  # the document whose passages match its vectors one for one
    finally:
        service.close()


def load_old_postgresql(url: str) -> None:
    """The old version's dump, loaded into the (empty) schema `url` uses."""
    import psycopg

    options = parse_qs(urlparse(url).query)["options"][0]
    schema = options.split("search_path=")[1].split()[0]
    sql = (OLD / "postgresql.sql").read_text(encoding="utf-8")
    sql = sql.replace("CREATE SCHEMA __SCHEMA__;", "").replace("__SCHEMA__", schema)
    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        conn.execute(sql.encode())


@pytest.fixture(params=["sqlite", "postgresql"])
def old_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database made by the previous version, with its one shared list of migration names."""
    if request.param == "sqlite":
        return str(shutil.copy(OLD / "sectorbot.db", tmp_path / "sectorbot.db"))
    url = request.getfixturevalue("postgres_url")
    load_old_postgresql(url)
    return url


@pytest.fixture
def fresh_target(old_target: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database on the same engine as `old_target`."""
    if "://" not in old_target:
        return str(tmp_path / "fresh.db")
    from tests.pgserver import fresh_schema

    return fresh_schema(request.getfixturevalue("postgres_cluster"))


def old_record(target: str) -> dict[str, str]:
    """The old shared list as the previous version left it: name → when it was applied."""
    db = open_database(target)  # the database alone: opening a Store would migrate it
    try:
        return {r["name"]: r["applied"] for r in db.query("SELECT name, applied FROM _migrations")}
    finally:
        db.close()


def schema_of(store: Store) -> dict[str, Any]:
    """Every table's shape; on SQLite the text of every table, index and trigger too."""
    tables = sorted(t for t in store.db.tables() if not SQLITE_ONLY.fullmatch(t))
    if store.dialect == "sqlite":
        objects = store.db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")
        shapes: dict[str, Any] = {t: sqlite_shape(store, t) for t in tables}
        return {"tables": shapes, "objects": set(objects.fetchall())}
    triggers = store.db.execute(
        "SELECT tgrelid::regclass::text, tgname, "
        "replace(pg_get_triggerdef(oid), current_schema() || '.', '') FROM pg_trigger "
        "WHERE NOT tgisinternal AND tgrelid::regclass::text = ANY (?)",
        [tables],
    )
    functions = store.db.execute(
        "SELECT proname, prosrc FROM pg_proc WHERE pronamespace = current_schema()::regnamespace"
    )
    return {
        "tables": {t: postgres_shape(store, t) for t in tables},
        "triggers": set(triggers.fetchall()),
        "functions": set(functions.fetchall()),
    }


# Migrations added after the version that wrote the fixtures: an upgrade applies them anew.
SINCE_OLD = [
    ("corpus", "m007_document_meta"),
    ("corpus", "m008_figures"),
    ("feedback", "m002_answer_times"),
    ("workers", "m002_update_bodies"),
]


def as_of_old(names: list[str], migration_set: str) -> list[str]:
    return [n for n in names if (migration_set, n) not in SINCE_OLD]


def test_every_old_migration_name_stands_for_migrations_of_one_set() -> None:
    sets = {m.name: as_of_old(m.names(), m.name) for m in MIGRATION_SETS}
    sqlite_names = [n for n in LEGACY if not n.startswith("pg")]
    assert sqlite_names == sorted(sqlite_names) and len(sqlite_names) == 14
    for old, (migration_set, names) in LEGACY.items():
        assert set(names) <= set(sets[migration_set]), old
    # The old SQLite list covers each set once, in the set's order; each PostgreSQL step, a
    # whole set as it was then. Migrations added to a set since come after what they cover.
    for migration_set, names in sets.items():
        covered = [
            n for old in sqlite_names for n in LEGACY[old][1] if LEGACY[old][0] == migration_set
        ]
        assert covered == names[: len(covered)], migration_set
        (whole,) = [
            LEGACY[old][1]
            for old in LEGACY
            if old.startswith("pg") and LEGACY[old][0] == migration_set
        ]
        assert list(whole) == covered, migration_set


def test_an_old_database_upgrades_in_place_and_keeps_everything(
    old_target: str, fresh_target: str
) -> None:
    before = old_record(old_target)
    assert len(before) == (14 if "://" not in old_target else 5)
    store = migrated(old_target)
    try:
        for table, rows in OLD_ROWS.items():
            assert store.db.scalar(f"SELECT count(*) FROM {table}") == rows, table
        titles = [r["title"] for r in store.db.query("SELECT title FROM documents ORDER BY id")]
        assert titles == ["Evening report", "Ранкове зведення"]
        ids = store.chunk_ids()
        assert store.vectors.stored_vectors(ids, "old-model", "torch") == {
            i: bytes([i]) * 8 for i in ids
        }
        assert store.db.scalar("SELECT vote FROM feedback_votes") == -1
        assert store.db.scalar("SELECT language FROM chat_languages") == "uk"

        # The record lists each set's migrations by set and name, each stamped when the old
        # name it stands for was applied: nothing ran again. Migrations newer than the old
        # names ran now, and are recorded too.
        recorded = {
            (r["migration_set"], r["name"]): r["applied"]
            for r in store.db.query("SELECT migration_set, name, applied FROM _migrations")
        }
        expected = {
            (migration_set, name): applied
            for old, applied in before.items()
            for migration_set, names in [LEGACY[old]]
            for name in names
        }
        assert {k: v for k, v in recorded.items() if k in expected} == expected
        assert sorted(set(recorded) - set(expected)) == SINCE_OLD  # applied now, once
        assert all(recorded[k] > max(before.values()) for k in SINCE_OLD)
        assert set(recorded) == {(m.name, n) for m in MIGRATION_SETS for n in m.names()}
        assert store.db.columns("_migrations") == ["migration_set", "name", "applied"]

        fresh = migrated(fresh_target)
        try:
            assert schema_of(store) == schema_of(fresh)
        finally:
            fresh.close()
        write_after_upgrade(store)
    finally:
        store.close()
    again = migrated(old_target)  # opened once more: nothing left to do, nothing done
    try:
        assert all(m.apply(again.db) == [] for m in MIGRATION_SETS)
        assert again.db.scalar("SELECT count(*) FROM _migrations") == len(recorded)
    finally:
        again.close()


def write_after_upgrade(store: Store) -> None:
    """A new report and a new subscriber go where the old rows are, under new ids."""
    old_max = store.db.scalar("SELECT max(id) FROM documents")
    report = Document(
        text="Drones struck the road near Pokrovsk overnight.", title="New report",
        url="https://example.org/reports/3", source="Example", published="2026-12-02",
        lang="en", origin_kind="feed", origin_ref="https://example.org/rss", ext_id="report-3",
    )  # fmt: skip
    status, doc_id = store.upsert_document(report)
    assert status == "added" and doc_id > old_max
    assert store.db.scalar("SELECT count(*) FROM alert_inbox") == 1  # the inbox trigger fired
    alerts = AlertStore(store)
    sub = NewSubscription("keyword", "Pokrovsk", "pokrovsk")
    outcomes, total = alerts.add_subscriptions(
        ChatRef(-100456, "group", "New"), [sub], 8, 10, stamp()
    )
    assert outcomes == ["added"] and total == 1
    assert store.db.scalar("SELECT count(*) FROM subscriptions") == 2


def test_doctor_reads_an_old_sqlite_database_as_current_and_leaves_its_record(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    path = Path(shutil.copy(OLD / "sectorbot.db", data / "sectorbot.db"))
    checks = {c.name: c for c in doctor.doctor(Settings(data_dir=data), quick=True)}
    # The old names all count as applied; only what came after that version is pending.
    pending = f"{len(SINCE_OLD)} migrations pending (applied at the next start)"
    detail = f"quick check ok; 2 documents, 2 passages; {pending}"
    assert (checks["database"].status, checks["database"].detail) == ("WARN", detail)
    # Opening the store would rewrite the record, which the previous version cannot read.
    assert checks["index"].status == "WARN" and "not checked" in checks["index"].detail
    assert old_record(str(path)) == old_record(str(OLD / "sectorbot.db"))  # not rewritten


def test_stores_opening_an_old_postgresql_database_together_rewrite_its_record_once(
    postgres_url: str,
) -> None:
    load_old_postgresql(postgres_url)
    start = threading.Barrier(4)

    def open_store(_: int) -> Store:
        start.wait()
        return Store(postgres_url)

    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(open_store, range(4)))
    try:
        recorded = stores[0].db.query("SELECT migration_set, name FROM _migrations")
        corpus = [r["name"] for r in recorded if r["migration_set"] == "corpus"]
        assert corpus == MIGRATION_SETS[0].names()
        # The other sets' names came from the old record; their newer steps wait for their
        # own stores to open.
        waiting = [pair for pair in SINCE_OLD if pair[0] != "corpus"]
        assert len(recorded) == sum(len(m.names()) for m in MIGRATION_SETS) - len(waiting)
    finally:
        for store in stores:
            store.close()


def test_an_old_name_this_version_cannot_place_is_kept() -> None:
    rows = from_legacy(
        [("m001_documents", "then"), ("m099_later", "later"), ("pg003_feedback", "t")]
    )
    assert rows == [
        ("corpus", "m001_documents", "then"),
        (UNPLACED, "m099_later", "later"),
        ("feedback", "m001_feedback", "t"),
    ]
