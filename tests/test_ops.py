"""doctor, export, import and backup: on the sample corpus, on broken data, under load."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import threading
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from sectorbot.bot.alerts import migrations as alert_migrations
from sectorbot.bot.alerts.store import AlertStore
from sectorbot.bot.cli.main import cli
from sectorbot.bot.errors import OperationError
from sectorbot.bot.feedback import migrations as feedback_migrations
from sectorbot.bot.feedback.store import FeedbackStore
from sectorbot.bot.ops import backup, doctor, transfer
from sectorbot.bot.preferences import migrations as preference_migrations
from sectorbot.bot.preferences.store import PreferencesStore
from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings
from sectorbot.bot.workers import migrations as worker_migrations
from sectorbot.bot.workers.store import WorkerStore
from sectorbot.corpus import migrations
from sectorbot.corpus.models import Document
from sectorbot.corpus.store import Store
from tests.conftest import ROOT
from tests.fakebotapi import FakeBotAPI
from tests.httpserver import LocalServer
from tests.test_crash import cli as cli_argv
from tests.test_crash import write_corpus

# Shaped like a bot token, never a real one: doctor must not print it.
TOKEN = "7012345678:AAF3kq9ZLx0vbN_2mRtY8wPq-5sUeHjK1cD"
QUESTIONS = [
    json.loads(line)["q"]
    for line in (ROOT / "tests" / "eval" / "sample_questions.jsonl").read_text().splitlines()[:5]
]
DOC_COLUMNS = ("ext_id", "url", "canonical_url", "title", "source", "author", "published",
               "fetched", "lang", "content_hash", "origin_kind", "origin_ref", "text",
               "word_count")  # fmt: skip


def sample_copy(sample_service_dir: Path, target: Path) -> Path:
    shutil.copytree(sample_service_dir, target)
    return target


def invoke(*args: str | Path) -> tuple[int, str]:
    """The real click group, in this process (so the loaded model is reused)."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    finally:
        # The group points logging at the runner's stream, which is closed afterwards.
        root.handlers[:], level = saved
        root.setLevel(level)
    return result.exit_code, result.output


def doctor_json(data: Path, *extra: str) -> tuple[int, dict]:
    proc = subprocess.run(
        cli_argv(data, "doctor", "--json", *extra), capture_output=True, text=True, timeout=300
    )
    return proc.returncode, json.loads(proc.stdout)


def statuses(report: dict) -> dict[str, str]:
    return {c["name"]: c["status"] for c in report["checks"]}


def dump(data: Path, table: str, columns: str = "*") -> list[tuple]:
    conn = sqlite3.connect(str(data / "sectorbot.db"))
    try:
        return conn.execute(f"SELECT {columns} FROM {table} ORDER BY 1").fetchall()
    finally:
        conn.close()


def read_export(path: Path) -> tuple[dict, list[dict]]:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["kind"] == "header"
    return lines[0], lines[1:]


def assert_header_matches(header: dict, records: list[dict]) -> None:
    assert Counter(transfer.line_table(r) for r in records) == Counter(
        {t: n for t, n in header["counts"].items() if n}
    )


# --- doctor ----------------------------------------------------------------------------------


def without_proxies() -> dict[str, str]:
    """This environment without proxy settings: the fake Bot API is on 127.0.0.1."""
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def test_doctor_is_all_green_on_the_sample(sample_service_dir: Path, tmp_path: Path) -> None:
    data = sample_copy(sample_service_dir, tmp_path / "data")
    # Telegram itself is a fake here: a bot whose privacy mode is off reads every message.
    with FakeBotAPI(token=TOKEN) as telegram:
        telegram.set_privacy_mode(False)
        proc = subprocess.run(
            cli_argv(data, "doctor"),
            capture_output=True,
            text=True,
            timeout=300,
            env={**without_proxies(), "TELEGRAM_BOT_TOKEN": TOKEN,
                 "SECTORBOT_TELEGRAM_API_URL": telegram.base_url},
        )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    names = [line.split()[1] for line in lines[:-1]]
    assert names == ["settings", "token", "data", "database", "backend", "workers", "telegram",
                     "model", "index", "lexical", "feeds", "disk"]  # fmt: skip
    assert all(line.startswith("OK ") for line in lines[:-1]), proc.stdout
    assert lines[-1] == "doctor: 12 OK, 0 WARN, 0 FAIL"
    assert TOKEN not in proc.stdout + proc.stderr
    assert TOKEN.split(":")[1] not in proc.stdout + proc.stderr

    code, report = doctor_json(data, "--quick")
    assert code == 0 and report["status"] == "WARN"  # no token in this environment
    assert statuses(report) == {
        "settings": "OK", "token": "WARN", "data dir": "OK", "database": "OK", "backend": "OK",
        "workers": "OK", "index": "OK", "lexical": "OK", "disk": "OK",
    }  # fmt: skip


def test_doctor_fails_on_a_garbled_index(sample_service_dir: Path, tmp_path: Path) -> None:
    data = sample_copy(sample_service_dir, tmp_path / "data")
    manifest = json.loads((data / "index" / "manifest.json").read_text())
    path = data / "index" / manifest["file"]
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 32] = b"\0" * 32
    path.write_bytes(bytes(raw))

    code, report = doctor_json(data, "--quick")
    assert code == 1 and report["status"] == "FAIL"
    index = next(c for c in report["checks"] if c["name"] == "index")
    assert index["status"] == "FAIL"
    assert "corrupt" in index["detail"] and "sectorbot reindex" in index["detail"]
    assert [c["name"] for c in report["checks"] if c["status"] == "FAIL"] == ["index"]
    # doctor reports and leaves the repair to a person: the file is as broken as before.
    assert path.read_bytes() == bytes(raw)


def test_doctor_fails_when_the_data_dir_is_a_file(tmp_path: Path) -> None:
    # A file where the directory should be cannot be written into, even by root.
    data = tmp_path / "not-a-dir"
    data.write_text("oops")
    code, report = doctor_json(data, "--quick")
    assert code == 1
    check = next(c for c in report["checks"] if c["name"] == "data dir")
    assert check["status"] == "FAIL" and "not a directory" in check["detail"]


def test_doctor_warns_on_unreachable_feeds_and_a_stale_index(sample_service: Service) -> None:
    settings = sample_service.settings
    AlertStore(sample_service.store)  # the feeds table
    with LocalServer() as server:
        server.set("/feed.xml", "<rss version='2.0'><channel></channel></rss>", "text/xml")
        with sample_service.store.transaction():
            for url in (server.url("/feed.xml"), server.url("/gone.xml")):
                sample_service.store.db.execute(
                    "INSERT INTO feeds (url, added) VALUES (?, '2025-01-01T00:00:00')", [url]
                )
        checks = {c.name: c for c in doctor.doctor(settings)}
    assert checks["feeds"].status == "WARN"
    assert "1 of 2 feeds unreachable" in checks["feeds"].detail
    assert "/gone.xml: HTTP 404" in checks["feeds"].detail
    assert checks["index"].status == "OK"

    write_corpus(settings.data_dir.parent / "new", 2, seed=11, sentences=3)
    assert sample_service.ingest([str(settings.data_dir.parent / "new")]).ok
    checks = {c.name: c for c in doctor.doctor(settings, quick=True)}
    assert checks["index"].status == "WARN" and "sectorbot reindex" in checks["index"].detail
    assert checks["lexical"].status == "OK" and "2 stored since" in checks["lexical"].detail
    assert doctor.worst(checks.values()) == "WARN"


def test_doctor_warns_on_a_damaged_lexical_index_and_changes_nothing(
    sample_service_dir: Path, tmp_path: Path
) -> None:
    data = sample_copy(sample_service_dir, tmp_path / "data")
    saved = data / "index" / "lexical.npz"
    checks = {c.name: c for c in doctor.doctor(Settings(data_dir=data), quick=True)}
    assert checks["lexical"].status == "OK" and "47 passages saved, 0 stored since" in (
        checks["lexical"].detail
    )
    saved.write_bytes(saved.read_bytes()[:300])
    damaged = saved.read_bytes()
    checks = {c.name: c for c in doctor.doctor(Settings(data_dir=data), quick=True)}
    assert checks["lexical"].status == "WARN"
    assert (
        checks["lexical"].detail
        == "lexical.npz is unreadable (BadZipFile): rebuilt from the store at the next start"
    )
    assert saved.read_bytes() == damaged


def forget_migration(data: Path, migration_set: str, name: str) -> None:
    """Make a migration pending again, as if the database were older."""
    conn = sqlite3.connect(str(data / "sectorbot.db"), isolation_level=None)
    forget = "DELETE FROM _migrations WHERE migration_set = ? AND name = ?"
    conn.execute(forget, [migration_set, name])
    conn.close()


def test_doctor_reports_pending_migrations_and_applies_none(tmp_path: Path) -> None:
    data = tmp_path / "data"
    open_alert_tables(data)
    last = migrations.MIGRATIONS.names()[-1]
    forget_migration(data, "corpus", last)
    checks = {c.name: c for c in doctor.doctor(Settings(data_dir=data), quick=True)}
    assert checks["database"].status == "WARN"
    assert "1 migrations pending" in checks["database"].detail
    assert checks["index"].status == "WARN" and "not checked" in checks["index"].detail
    assert checks["lexical"].status == "WARN" and "not checked" in checks["lexical"].detail
    recorded = dump(data, "_migrations", "migration_set, name")
    assert ("corpus", last) not in recorded  # still pending: nothing applied


def test_doctor_counts_the_alert_migrations(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Store(data / "sectorbot.db").close()  # the corpus tables alone, as an older version left
    checks = {c.name: c for c in doctor.doctor(Settings(data_dir=data), quick=True)}
    features = (alert_migrations, feedback_migrations, preference_migrations, worker_migrations)
    pending = sum(len(feature.MIGRATIONS.steps) for feature in features)
    assert checks["database"].status == "WARN"
    assert f"{pending} migrations pending" in checks["database"].detail
    open_alert_tables(data)
    checks = {c.name: c for c in doctor.doctor(Settings(data_dir=data), quick=True)}
    assert checks["database"].status == "OK" and "schema current" in checks["database"].detail


# --- export and import -----------------------------------------------------------------------


def test_export_then_import_answers_the_same_with_the_same_sources(
    sample_service_dir: Path, sample_service: Service, tmp_path: Path
) -> None:
    out = tmp_path / "sample.jsonl"
    code, output = invoke("--data-dir", sample_service_dir, "export", "--out", out)
    assert code == 0, output
    header, records = read_export(out)
    assert header["counts"]["documents"] == 47
    assert_header_matches(header, records)

    to_stdout = CliRunner().invoke(cli, ["--data-dir", str(sample_service_dir), "export"])
    assert to_stdout.exit_code == 0
    same = [json.loads(line) for line in to_stdout.stdout.splitlines()]
    assert same[1:] == records and same[0]["counts"] == header["counts"]

    empty = tmp_path / "empty"
    code, output = invoke("--data-dir", empty, "import", out)
    assert code == 0, output
    assert "documents: added 47, updated 0, unchanged 0" in output
    assert "index: index built (47 passages)" in output

    columns = ", ".join(DOC_COLUMNS)
    assert dump(empty, "documents", columns) == dump(sample_service_dir, "documents", columns)
    imported = Service(Settings(data_dir=empty))
    try:
        assert imported.ensure_index() is None
        for question in QUESTIONS:
            mine, theirs = imported.ask(question), sample_service.ask(question)
            assert mine.answered == theirs.answered, question
            assert [(s.title, s.url) for s in mine.sources] == [
                (s.title, s.url) for s in theirs.sources
            ], question
            assert mine.sources or mine.more, question
    finally:
        imported.close()


def open_alert_tables(data: Path) -> None:
    """Every feature's tables, as `Service` opens them: the alerts' and the feedback's."""
    store = Store(data / "sectorbot.db")
    AlertStore(store)
    FeedbackStore(store)
    PreferencesStore(store)
    WorkerStore(store)
    store.close()


def test_import_twice_changes_nothing(sample_service_dir: Path, tmp_path: Path) -> None:
    source = sample_copy(sample_service_dir, tmp_path / "source")
    conn = sqlite3.connect(str(source / "sectorbot.db"), isolation_level=None)
    conn.execute("INSERT INTO feeds (url, added, etag) VALUES ('https://e.org/rss', 'x', 'e1')")
    conn.execute(
        "INSERT INTO chats (chat_id, type, title, created, updated) "
        "VALUES (-100, 'supergroup', 'Volunteers', 'x', 'x')"
    )
    conn.executemany(
        "INSERT INTO subscriptions (chat_id, kind, value, normalized, vector, created) "
        "VALUES (-100, ?, ?, ?, ?, 'x')",
        [("place", "Pokrovsk", "pokrovsk", None), ("topic", "Мирноград", "мирноград",
                                                   bytes(range(256)))],
    )  # fmt: skip
    conn.close()
    out = tmp_path / "export.jsonl"
    with out.open("w", encoding="utf-8") as fh:
        counts = transfer.export(Settings(data_dir=source), fh)
    assert counts == {"documents": 47, "feeds": 1, "chats": 1, "subscriptions": 2}

    target = tmp_path / "target"
    code, first = invoke("--data-dir", target, "import", "--no-index", out)
    assert code == 0, first
    assert "subscriptions: added 2, updated 0, unchanged 0" in first

    tables = ("documents", "chunks", "feeds", "chats", "subscriptions")
    before = {t: dump(target, t) for t in tables}
    code, second = invoke("--data-dir", target, "import", "--no-index", out)
    assert code == 0, second
    assert "documents: added 0, updated 0, unchanged 47" in second
    assert "feeds: added 0, updated 0, unchanged 1" in second
    assert "subscriptions: added 0, updated 0, unchanged 2" in second
    assert {t: dump(target, t) for t in tables} == before
    assert before["feeds"][0][1:3] == ("https://e.org/rss", None) and "e1" in before["feeds"][0]
    # Kept whole, BLOBs too; the ids are the receiving store's own.
    columns = "chat_id, kind, value, normalized, vector"
    assert dump(target, "subscriptions", columns) == dump(source, "subscriptions", columns)


def test_chats_and_subscriptions_move_and_old_reports_raise_no_alerts(
    sample_service_dir: Path, tmp_path: Path
) -> None:
    assert "m002_subscriptions" in alert_migrations.MIGRATIONS.names()
    source = sample_copy(sample_service_dir, tmp_path / "source")
    store = Store(source / "sectorbot.db")
    AlertStore(store)
    feed_doc = Document(
        text="Drones hit the Pokrovsk-Dobropillia road again. " * 5,
        title="Road under drones",
        url="https://example.org/feed/1",
        source="Feed",
        origin_kind="feed",
        origin_ref="https://example.org/rss",
    )
    store.upsert_document(feed_doc)
    stamp = "2025-08-01T00:00:00"
    with store.transaction():
        store.db.execute(
            "INSERT INTO chats (chat_id, type, title, created, updated) VALUES (?, ?, ?, ?, ?)",
            [-1001, "supergroup", "Pokrovsk watch", stamp, stamp],
        )
        topic = ("topic", "drone strikes on logistics", bytes(range(64)))
        for kind, value, vector in [("place", "Myrnohrad", None), topic]:
            store.db.execute(
                "INSERT INTO subscriptions (chat_id, kind, value, normalized, vector, model, "
                "created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [-1001, kind, value, value.lower(), vector, "m" if vector else None, stamp],
            )
    store.close()
    out = tmp_path / "export.jsonl"
    assert invoke("--data-dir", source, "export", "--out", out)[0] == 0

    target = tmp_path / "target"
    code, output = invoke("--data-dir", target, "import", "--no-index", out)
    assert code == 0, output
    assert "chats: added 1," in output and "subscriptions: added 2," in output
    subs = "chat_id, kind, value, normalized, vector, model, created"
    assert dump(target, "subscriptions", subs) == dump(source, "subscriptions", subs)
    assert dump(target, "chats") == dump(source, "chats")
    assert dump(target, "documents", "count(*)") == [(48,)]
    assert dump(target, "alert_inbox") == []  # an imported report is not news

    code, again = invoke("--data-dir", target, "import", "--no-index", out)
    assert "subscriptions: added 0, updated 0, unchanged 2" in again
    assert "chats: added 0, updated 0, unchanged 1" in again


def test_export_while_ingesting_is_a_consistent_snapshot(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_corpus(tmp_path / "docs", 150, seed=7, sentences=12)
    settings = Settings(data_dir=data)
    writer = Service(settings)
    done = threading.Event()

    def keep_ingesting() -> None:
        try:
            writer.ingest([str(tmp_path / "docs")])
        finally:
            done.set()

    thread = threading.Thread(target=keep_ingesting)
    thread.start()
    exports = []
    try:
        while not done.is_set() or not exports:
            buffer = io.StringIO()
            transfer.export(settings, buffer)
            exports.append(buffer.getvalue())
    finally:
        thread.join()
        writer.close()
    seen = []
    for text in exports:
        header = json.loads(text.split("\n", 1)[0])
        records = [json.loads(line) for line in text.splitlines()[1:]]
        assert_header_matches(header, records)
        assert all(r["text"] for r in records if r["kind"] == "document")
        seen.append(header["counts"]["documents"])
    assert seen == sorted(seen) and seen[-1] <= 150
    assert len(set(seen)) > 1, "every export saw the same state: nothing ran concurrently"


def test_bad_import_lines_are_named_and_the_rest_goes_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = {"kind": "document", "title": "Myrnohrad police", "source": "Suspilne",
            "url": "https://example.org/m", "published": "2025-02-01",
            "text": "About 3,000 residents remained in Myrnohrad, the police said."}  # fmt: skip
    lines = [
        json.dumps(transfer.export_header({"documents": 3, "feeds": 2})),
        json.dumps(good),
        '{"kind": "document", "title": "cut off',
        json.dumps({**good, "url": "https://example.org/x", "text": "  "}),
        json.dumps({"kind": "chat", "id": 1}),
        json.dumps({**good, "url": "https://example.org/d", "published": "last week"}),
        json.dumps({"kind": "feed", "url": "ftp://example.org/rss"}),
        json.dumps({"kind": "feed", "url": "https://example.org/rss", "title": "Example"}),
        json.dumps({**good, "url": "https://example.org/n", "title": 42}),
        json.dumps({"kind": "row", "table": "documents", "data": {}}),
        json.dumps({**good, "url": "https://example.org/2", "text": "Second report on it."}),
        '{"kind": "document", "text": ' + "[" * 100_000 + "]" * 100_000 + "}",
        json.dumps({**good, "url": "https://example.org/big", "text": "war " * 100_000}),
        json.dumps({**good, "url": "https://example.org/3", "text": "Third report on it."}),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"kind": "\xff"}\n')
    monkeypatch.setenv("SECTORBOT_MAX_FILE_BYTES", "300000")  # the big line is 400 kB
    code, output = invoke("--data-dir", tmp_path / "data", "import", "--no-index", path)
    assert code == 1
    failed = [line.strip() for line in output.splitlines() if line.startswith("  line ")]
    assert failed == [
        "line 3: invalid JSON: Unterminated string starting at (column 31)",
        "line 4: document without text",
        "line 5: unknown kind 'chat'",
        "line 6: invalid date 'last week'",
        "line 7: feed without an http(s) url",
        "line 9: field 'title' should be a string, not int",
        "line 10: table 'documents' is not one that import writes",
        "line 12: JSON nested too deeply to read",
        "line 13: the line is 400.1 kB, over the 300.0 kB limit",
        "line 15: not UTF-8 text (byte 11)",
    ]
    assert "documents: added 3, updated 0, unchanged 0" in output
    assert "feeds: added 1, updated 0, unchanged 0" in output
    assert "failed lines: 10" in output
    titles = [row[0] for row in dump(tmp_path / "data", "documents", "title")]
    assert titles == ["Myrnohrad police"] * 3


def test_export_never_writes_into_the_data_directory(
    sample_service_dir: Path, tmp_path: Path
) -> None:
    data = sample_copy(sample_service_dir, tmp_path / "data")
    before = (data / "sectorbot.db").read_bytes()
    for target in (data / "sectorbot.db", data / "index" / "x.jsonl", data / "new.jsonl"):
        with pytest.raises(OperationError, match="is inside the data directory"):
            invoke("--data-dir", data, "export", "--out", target)
    assert (data / "sectorbot.db").read_bytes() == before
    code, _ = invoke("--data-dir", data, "export", "--out", tmp_path / "elsewhere.jsonl")
    assert code == 0 and (tmp_path / "elsewhere.jsonl").stat().st_size > 0


def test_import_refuses_a_file_that_is_not_an_export(sample_service: Service) -> None:
    with pytest.raises(OperationError, match="not a sectorbot export header"):
        transfer.import_lines(sample_service, ['{"id": "x", "text": "a JSONL corpus file"}'])
    newer = json.dumps({**transfer.export_header({}), "version": 99})
    with pytest.raises(OperationError, match="version 99"):
        transfer.import_lines(sample_service, [newer])
    with pytest.raises(OperationError, match="empty"):
        transfer.import_lines(sample_service, ["", "  "])


# --- backup ----------------------------------------------------------------------------------


def test_backup_while_writing_is_a_whole_checked_copy(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_corpus(tmp_path / "docs", 80, seed=8, sentences=12)
    settings = Settings(data_dir=data)
    writer = Service(settings)
    thread = threading.Thread(target=writer.ingest, args=([str(tmp_path / "docs")],))
    thread.start()
    try:
        while not (data / "sectorbot.db").exists():
            thread.join(0.01)
        code, output = invoke("--data-dir", data, "backup", tmp_path / "copy.db")
    finally:
        thread.join()
        writer.close()
    assert code == 0, output
    assert output.startswith(f"backup: {tmp_path / 'copy.db'} (")
    assert not (tmp_path / "copy.db-wal").exists()
    conn = sqlite3.connect(str(tmp_path / "copy.db"))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        documents = conn.execute("SELECT count(*) FROM documents").fetchone()[0]
        assert f"{documents} documents" in output
        orphans = conn.execute(
            "SELECT count(*) FROM documents d WHERE NOT EXISTS "
            "(SELECT 1 FROM chunks c WHERE c.document_id = d.id)"
        ).fetchone()[0]
        assert orphans == 0
    finally:
        conn.close()
    assert list(tmp_path.glob(".copy.db.*.tmp")) == []

    with pytest.raises(OperationError, match="overwrite the live database"):
        backup.backup(settings, data / "sectorbot.db")
