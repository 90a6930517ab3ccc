"""The upgrade path from SQLite to PostgreSQL: `sectorbot export`, then `import` with
SECTORBOT_DATABASE_URL set; the bot then answers the same, with the same sources."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from sectorbot.bot.alerts.store import AlertStore, ChatRef, NewSubscription
from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings
from sectorbot.corpus.dates import stamp
from sectorbot.corpus.store import Store
from tests.commands import SECTORBOT
from tests.test_ops import QUESTIONS, assert_header_matches, invoke, read_export


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
        # The vectors came with the export: the new store's index embeds nothing.
        assert moved.store.vectors.vector_count() == moved.store.chunk_count()
        assert moved.vectors.reindex().embedded == 0
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
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://bot:hunter2@127.0.0.1:{port}/x"
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
