"""Every command that writes a file goes through one guard (`bot/ops/files.py`): never inside
the data directory, never into a missing folder, and never half-written."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sectorbot.bot.alerts.store import AlertStore
from sectorbot.bot.feedback.store import FeedbackStore, RatedAnswer
from sectorbot.corpus.models import Document
from sectorbot.corpus.store import Store
from tests.commands import SECTORBOT

# Each command that writes a file, as argv with {out} where its target goes.
WRITERS = {
    "export": ["export", "--out", "{out}"],
    "feedback export": ["feedback", "export", "--out", "{out}"],
    "backup": ["backup", "{out}"],
}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data directory with a stored document and one 👎 vote, made without the model."""
    folder = tmp_path / "data"
    folder.mkdir()
    store = Store(folder / "sectorbot.db")
    try:
        store.upsert_document(
            Document(
                title="Myrnohrad water",
                text="The water supply of Myrnohrad was cut on 3 May.",
                source="Test Wire",
                url="https://example.org/water",
                published="2025-05-03",
            )
        )
        AlertStore(store)  # every feature's tables, as a running bot leaves them
        votes = FeedbackStore(store)
        key = votes.record_answer(RatedAnswer("Who cut the water?", [1], ["doc-1"]), "t")
        votes.vote(key, 7, -1, "t")
    finally:
        store.close()
    return folder


def run(data: Path, argv: list[str], out: Path | str) -> subprocess.CompletedProcess[str]:
    args = [a.replace("{out}", str(out)) for a in argv]
    env = {**os.environ, "SECTORBOT_DATA_DIR": str(data)}
    return subprocess.run([*SECTORBOT, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("command", WRITERS)
def test_no_command_writes_over_the_live_database(data: Path, command: str) -> None:
    db = data / "sectorbot.db"
    before = db.read_bytes()
    for target in (db, data / "index" / "x.jsonl", data / "new.jsonl"):
        done = run(data, WRITERS[command], target)
        assert done.returncode != 0, (command, target, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "inside the data directory" in lines[0], done.stderr
        assert "Traceback" not in done.stderr
    assert db.read_bytes() == before
    assert sorted(p.name for p in data.iterdir()) == ["sectorbot.db"]


@pytest.mark.parametrize("command", WRITERS)
def test_a_missing_folder_is_one_line(data: Path, tmp_path: Path, command: str) -> None:
    target = tmp_path / "no-such-folder" / "out.file"
    done = run(data, WRITERS[command], target)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"sectorbot: error: no folder {target.parent}: create it first, or write elsewhere"
    ]
    assert not target.parent.exists()


@pytest.mark.parametrize("command", WRITERS)
def test_a_written_file_is_whole_and_leaves_no_temporary(
    data: Path, tmp_path: Path, command: str
) -> None:
    out = tmp_path / "out" / "result.file"
    out.parent.mkdir()
    done = run(data, WRITERS[command], out)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0
    assert [p.name for p in out.parent.iterdir()] == ["result.file"]


def test_backup_to_a_new_folder_named_with_a_slash(data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "backups" / "daily"
    done = run(data, ["backup", "{out}"], f"{folder}/")
    assert done.returncode == 0, done.stderr
    made = list(folder.iterdir())
    assert len(made) == 1 and made[0].name.startswith("sectorbot-") and made[0].suffix == ".db"
    assert not (tmp_path / "backups" / "daily.db").exists()
