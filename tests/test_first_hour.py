"""What a new operator meets first: `run` with and without a token, the terminal chat as a
transcript, and the hints that point at the next step."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from tests.commands import SECTORBOT
from tests.fakebotapi import FakeBotAPI

REFUSED_TOKEN = "7012345678:AAF3kq9ZLx0vbN_2mRtY8wPq-5sUeHjK1cD"  # not the fake's own


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "HF_HUB_OFFLINE": "1",
        "SECTORBOT_DATA_DIR": str(tmp_path / "data"),
        **extra,
    }


def documents(data: Path) -> int:
    conn = sqlite3.connect(data / "sectorbot.db")
    try:
        return int(conn.execute("SELECT count(*) FROM documents").fetchone()[0])
    finally:
        conn.close()


def test_the_telegram_bot_never_starts_on_the_sample_corpus(tmp_path: Path) -> None:
    with FakeBotAPI() as api:  # it refuses this token: `run` stops once it reaches Telegram
        env = environment(
            tmp_path, TELEGRAM_BOT_TOKEN=REFUSED_TOKEN, SECTORBOT_TELEGRAM_API_URL=api.base_url
        )
        done = subprocess.run(
            [*SECTORBOT, "run"], env=env, capture_output=True, text=True, timeout=300
        )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "sample corpus" not in done.stderr
    assert "the store is empty: add reports with `sectorbot ingest" in done.stderr
    assert documents(tmp_path / "data") == 0


def test_piped_questions_read_as_a_transcript(tmp_path: Path, sample_service_dir: Path) -> None:
    shutil.copytree(sample_service_dir, tmp_path / "data")
    questions = "Who cut the water in Myrnohrad?\nWhat is the capital of Australia?\n"
    done = subprocess.run(
        [*SECTORBOT, "chat"],
        env=environment(tmp_path),
        input=questions,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    asked = [line for line in lines if line.startswith("you> ")]
    assert asked == [f"you> {q}" for q in questions.splitlines()]
    # Each question comes before its answer, and the refusal after the second.
    second = lines.index("you> What is the capital of Australia?")
    assert any(line.startswith("I don't know") for line in lines[second:])
