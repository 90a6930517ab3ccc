"""Crash safety, shown with real processes: kill -9 mid-ingest and mid-reindex, damaged index
files, and a disk that fills up during an ingest.

Subprocesses that only store (`ingest --no-index`) never load the model; the in-process
checks reuse the session's model, so the whole file stays short.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings
from sectorbot.index.vectors import IndexProblem, VectorIndex, fingerprint
from tests.commands import SECTORBOT
from tests.conftest import SAMPLE

PLACES = ["Pokrovsk", "Myrnohrad", "Selydove", "Novohrodivka", "Kurakhove", "Avdiivka",
          "Ocheretyne", "Hrodivka", "Udachne", "Kotlyne", "Shevchenko", "Dobropillia"]  # fmt: skip
ACTORS = ["a mechanised brigade", "drone operators", "the regional administration",
          "artillery crews", "evacuation volunteers", "a rifle battalion", "military engineers",
          "the city council", "assault groups", "the police"]  # fmt: skip
ACTIONS = ["reported shelling near", "repelled an assault on", "mined the approaches to",
           "evacuated families from", "resupplied positions outside", "struck a convoy near",
           "cut the road from", "rebuilt a bridge at", "closed two districts of",
           "moved the hospital out of"]  # fmt: skip
WHEN = ["at dawn", "overnight", "on Monday", "in the afternoon", "after heavy rain",
        "under drone cover", "despite glide bombs", "for the third day"]  # fmt: skip
CLI = SECTORBOT


# --- a deterministic corpus -------------------------------------------------------------------


def sentence(rng: random.Random) -> str:
    actor, action = rng.choice(ACTORS), rng.choice(ACTIONS)
    return f"{actor.capitalize()} {action} {rng.choice(PLACES)} {rng.choice(WHEN)}."


def write_corpus(folder: Path, count: int, seed: int, sentences: int = 40) -> list[Path]:
    """`count` Markdown reports, the same for the same seed; each has its own URL."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        rng = random.Random(f"{seed}-{i}")  # string seeds do not depend on PYTHONHASHSEED
        body = " ".join(sentence(rng) for _ in range(sentences))
        path = folder / f"report-{seed}-{i:04}.md"
        path.write_text(
            f"---\ntitle: Sector report {seed}-{i}\nsource: Test Wire\n"
            f"date: 2025-{1 + i % 12:02}-{1 + i % 28:02}\n"
            f"url: https://example.org/reports/{seed}/{i}\n---\n{body}\n"
        )
        paths.append(path)
    return paths


# --- helpers ---------------------------------------------------------------------------------


def cli(data: Path, *args: str | Path) -> list[str]:
    return [*CLI, "--data-dir", str(data), *map(str, args)]


def run_cli(data: Path, *args: str | Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(data, *args), capture_output=True, text=True, timeout=300, **kw)


def scalar(data: Path, sql: str) -> int:
    conn = sqlite3.connect(str(data / "sectorbot.db"), timeout=30)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def document_count(data: Path) -> int:
    if not (data / "sectorbot.db").exists():
        return 0
    try:
        return scalar(data, "SELECT count(*) FROM documents")
    except sqlite3.OperationalError:  # the schema is still being created
        return 0


def assert_store_consistent(data: Path) -> None:
    """Integrity, and documents, passages and full-text rows all in step."""
    conn = sqlite3.connect(str(data / "sectorbot.db"), timeout=30, isolation_level=None)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        lonely_docs = conn.execute(
            "SELECT count(*) FROM documents d "
            "WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = d.id)"
        ).fetchone()[0]
        orphan_chunks = conn.execute(
            "SELECT count(*) FROM chunks c LEFT JOIN documents d ON d.id = c.document_id "
            "WHERE d.id IS NULL"
        ).fetchone()[0]
        gaps = conn.execute(
            "SELECT count(*) FROM (SELECT document_id FROM chunks GROUP BY document_id "
            "HAVING max(ordinal) + 1 != count(*))"
        ).fetchone()[0]
        assert (lonely_docs, orphan_chunks, gaps) == (0, 0, 0)
        chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        # One size row per indexed passage: the FTS table indexes exactly the passages.
        fts_rows = conn.execute("SELECT count(*) FROM chunks_fts_docsize").fetchone()[0]
        assert fts_rows == chunks
        conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    finally:
        conn.close()


def titles(data: Path) -> set[str]:
    return {title for title, _ in stored(data)}


def stored(data: Path) -> set[tuple[str, str]]:
    """(title, content hash) of every document: what must survive a crash unchanged."""
    conn = sqlite3.connect(str(data / "sectorbot.db"), timeout=30)
    try:
        return set(conn.execute("SELECT title, content_hash FROM documents").fetchall())
    finally:
        conn.close()


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert proc.poll() is None, f"the process ended (code {proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def ingest_in_process(data: Path, folder: Path) -> None:
    service = Service(Settings(data_dir=data))
    try:
        report = service.ingest([str(folder)])
        assert report.ok, report.failed
    finally:
        service.close()


# --- kill -9 during an ingest -----------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_during_ingest_keeps_every_committed_document(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = write_corpus(tmp_path / "first", 15, seed=1)
    ingest_in_process(data, tmp_path / "first")
    before = stored(data)
    assert len(before) == len(first)

    many = write_corpus(tmp_path / "many", 300, seed=2)
    proc = subprocess.Popen(
        cli(data, "ingest", "--no-index", tmp_path / "many"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: document_count(data) > len(first) + 20, proc, "20 documents were stored")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    kept = document_count(data)
    assert len(first) + 20 < kept < len(first) + len(many), "not killed in the middle"

    assert_store_consistent(data)
    assert before <= stored(data)

    again = run_cli(data, "ingest", "--no-index", tmp_path / "many")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"unchanged {kept - len(first)}, failed 0" in again.stdout
    assert_store_consistent(data)
    assert document_count(data) == len(first) + len(many)
    assert scalar(data, "SELECT count(DISTINCT url) FROM documents") == len(first) + len(many)
    assert len(titles(data)) == len(first) + len(many)


# --- kill -9 during a reindex -----------------------------------------------------------------


def test_sigkill_during_reindex_keeps_the_previous_index(
    tmp_path: Path, sample_service_dir: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(sample_service_dir, data)
    old = json.loads((data / "index" / "manifest.json").read_text())
    # Short reports: one passage each, cheap to embed afterwards in this process.
    write_corpus(tmp_path / "more", 40, seed=3, sentences=3)
    ingest_in_process(data, tmp_path / "more")
    total = scalar(data, "SELECT count(*) FROM chunks")
    assert total == old["count"] + 40

    proc = subprocess.Popen(
        cli(data, "reindex", "--full"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # One passage per model call: the rebuild then takes many separate steps even on a
        # fast machine. The batch size is not part of the index's model id.
        env={**os.environ, "SECTORBOT_EMBEDDING_BATCH_SIZE": "1"},
    )
    embedding = threading.Event()
    threading.Thread(target=_watch_for_model, args=(proc, embedding), daemon=True).start()
    try:
        # The model loads on the first batch: from that line on, the process is embedding
        # every passage again (a full rebuild), which takes far longer than the kill.
        wait_for(embedding.is_set, proc, "the reindex started embedding")
        time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the reindex finished before it was killed"

    service = Service(Settings(data_dir=data))
    try:
        index, manifest = service.vectors.load_checked()
        assert manifest.count == old["count"] == index.ntotal
        assert manifest.file == old["file"]
        notice = service.ensure_index()
        assert notice == "index was behind the store: updated (+40 -0 passages)"
        assert service.vectors.manifest and service.vectors.manifest.count == total
        assert service.vectors.manifest.fingerprint == fingerprint(service.store.chunk_ids())
        fresh = VectorIndex(data / "index", service.store, service.embedder)
        assert fresh.load_checked()[1].count == total
        left = sorted(p.name for p in (data / "index").iterdir())
        # The lexical index's saved file and the sentence vectors sit beside the vectors; no
        # temporary files remain.
        manifest = service.vectors.manifest
        assert left == sorted(["lexical.npz", "manifest.json", manifest.file, manifest.sentences])
    finally:
        service.close()


def _watch_for_model(proc: subprocess.Popen, seen: threading.Event) -> None:
    assert proc.stderr is not None
    for line in proc.stderr:
        if "embedding model" in line and "loaded" in line:
            seen.set()


# --- a damaged index --------------------------------------------------------------------------

SMALL = [
    "2025-06-26-lithium-shevchenko.md",
    "2025-01-08-lithium-shevchenko-target.md",
    "2024-02-17-avdiivka-withdrawal.md",
    "2024-08-19-pokrovsk-evacuation-children.md",
    "2025-02-01-myrnohrad-police-3000.md",
    "2024-08-08-distractor-kursk-incursion.md",
]
QUESTION = "Who captured the lithium deposit near Shevchenko?"


def _truncate(index_dir: Path, manifest: dict) -> None:
    path = index_dir / manifest["file"]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble(index_dir: Path, manifest: dict) -> None:
    path = index_dir / manifest["file"]
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    path.write_bytes(bytes(data))


def _delete(index_dir: Path, manifest: dict) -> None:
    (index_dir / manifest["file"]).unlink()


def _other_model(index_dir: Path, manifest: dict) -> None:
    other = {**manifest, "model": "all-MiniLM-L6-v2|torch"}
    (index_dir / "manifest.json").write_text(json.dumps(other))


DAMAGE = {
    "truncated": (_truncate, "is corrupt (checksum differs)"),
    "garbled": (_garble, "is corrupt (checksum differs)"),
    "deleted": (_delete, "is missing"),
    "other model": (_other_model, "index was built with all-MiniLM-L6-v2|torch"),
}


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six sample reports and their index: cheap to rebuild, and real questions answer."""
    folder = tmp_path_factory.mktemp("small-corpus")
    for name in SMALL:
        shutil.copy(SAMPLE / name, folder / name)
    data = tmp_path_factory.mktemp("small-data")
    service = Service(Settings(data_dir=data))
    try:
        assert service.ingest([str(folder)]).ok
        service.reindex()
    finally:
        service.close()
    return data


def damaged_copy(small_data: Path, target: Path, damage: str) -> Path:
    shutil.copytree(small_data, target)
    manifest = json.loads((target / "index" / "manifest.json").read_text())
    DAMAGE[damage][0](target / "index", manifest)
    return target


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_index_is_detected_and_rebuilt(
    damage: str, small_data: Path, tmp_path: Path
) -> None:
    data = damaged_copy(small_data, tmp_path / "data", damage)
    service = Service(Settings(data_dir=data))
    try:
        with pytest.raises(IndexProblem) as problem:
            service.vectors.load_checked()
        message = str(problem.value)
        assert DAMAGE[damage][1] in message and "\n" not in message
        notice = service.ensure_index()
        assert notice == f"{message}: rebuilt from the store ({len(SMALL)} passages)"
        _, manifest = VectorIndex(data / "index", service.store, service.embedder).load_checked()
        assert manifest.count == len(SMALL)
        assert service.ask(QUESTION).answered
    finally:
        service.close()


@pytest.mark.model
def test_ask_repairs_each_damaged_index_and_still_answers(small_data: Path, tmp_path: Path) -> None:
    # One process per kind of damage, side by side: each loads the model on its own.
    procs = {}
    for n, damage in enumerate(DAMAGE):
        data = damaged_copy(small_data, tmp_path / f"data-{n}", damage)
        procs[damage] = subprocess.Popen(
            cli(data, "ask", "--json", QUESTION),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    for damage, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        notices = [line for line in err.splitlines() if line.startswith("notice: ")]
        assert len(notices) == 1, err
        assert DAMAGE[damage][1] in notices[0] and "rebuilt from the store" in notices[0]
        assert "Traceback" not in err
        answer = json.loads(out)
        assert answer["answered"], damage
        assert any("Shevchenko" in source["title"] for source in answer["sources"])


# --- a full disk during an ingest -------------------------------------------------------------


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        # Ignored SIGXFSZ: a write past the limit then fails with EFBIG ("File too large")
        # instead of killing the process, which is what a full disk looks like to SQLite.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.slow
def test_full_disk_during_ingest_fails_items_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = write_corpus(tmp_path / "first", 20, seed=4)
    ingest_in_process(data, tmp_path / "first")
    before = stored(data)
    size = (data / "sectorbot.db").stat().st_size
    assert not (data / "sectorbot.db-wal").exists()  # closed cleanly: all in the main file

    many = write_corpus(tmp_path / "many", 120, seed=5)
    limited = run_cli(
        data, "ingest", "--no-index", tmp_path / "many", preexec_fn=_limit_file_size(size + 65536)
    )
    output = limited.stdout + limited.stderr
    assert limited.returncode == 1, output
    assert "Traceback" not in output
    failed = [line for line in limited.stdout.splitlines() if line.startswith("  failed: ")]
    assert failed, output
    for line in failed:
        assert "report-5-" in line and ": could not store: " in line, line
    summary = limited.stdout.splitlines()[0]
    assert summary.endswith(f"failed {len(failed)}")
    assert 0 < len(failed) <= len(many)

    assert_store_consistent(data)
    assert before <= stored(data)
    assert len(titles(data)) == document_count(data) == len(first) + len(many) - len(failed)

    again = run_cli(data, "ingest", "--no-index", tmp_path / "many")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"added {len(failed)}," in again.stdout
    assert_store_consistent(data)
    assert document_count(data) == len(first) + len(many)
    assert scalar(data, "SELECT count(DISTINCT url) FROM documents") == len(first) + len(many)


def test_generated_corpus_is_deterministic(tmp_path: Path) -> None:
    a = write_corpus(tmp_path / "a", 3, seed=9)
    b = write_corpus(tmp_path / "b", 3, seed=9)
    assert [p.read_text() for p in a] == [p.read_text() for p in b]
    assert len({p.read_text() for p in a}) == 3
    assert os.path.getsize(a[0]) > 2000
