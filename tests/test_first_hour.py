"""What a new operator meets first: `run` with and without a token, the terminal chat as a
transcript, and the hints that point at the next step."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
import uuid
from pathlib import Path

import pytest

from tests.commands import SECTORBOT
from tests.conftest import ROOT, free_port
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


@pytest.mark.slow
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


def postgres_environment(tmp_path: Path, url: str) -> dict[str, str]:
    return environment(tmp_path, SECTORBOT_DATABASE_URL=url)


@pytest.mark.slow
def test_a_role_that_cannot_create_its_tables_is_named_with_the_fix(
    postgres_cluster: str, tmp_path: Path
) -> None:
    import psycopg

    suffix = uuid.uuid4().hex[:8]
    role, theirs, own = f"op_{suffix}", f"theirs_{suffix}", f"own_{suffix}"
    with psycopg.connect(postgres_cluster, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"CREATE DATABASE {theirs} ENCODING 'UTF8' TEMPLATE template0")
        # The README's recipe: the database belongs to the role that runs sectorbot.
        conn.execute(f"CREATE DATABASE {own} ENCODING 'UTF8' TEMPLATE template0 OWNER {role}")
    base = postgres_cluster.rsplit("/", 1)[0].replace("//sectorbot@", f"//{role}@")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "note.md").write_text("# Myrnohrad\n\nThe water supply was cut on 3 May.\n")

    env = postgres_environment(tmp_path, f"{base}/{theirs}")
    doctor = subprocess.run(
        [*SECTORBOT, "doctor", "--quick"], env=env, capture_output=True, text=True, timeout=120
    )
    assert doctor.returncode != 0
    (line,) = [x for x in doctor.stdout.splitlines() if x.split()[:2] == ["FAIL", "create"]]
    assert f"role {role} may not create tables in schema public" in line
    assert f"createdb -O {role}" in line and f"GRANT CREATE ON SCHEMA public TO {role}" in line
    ingest = subprocess.run(
        [*SECTORBOT, "ingest", str(corpus)], env=env, capture_output=True, text=True, timeout=120
    )
    assert ingest.returncode != 0 and "Traceback" not in ingest.stderr
    assert len(ingest.stderr.strip().splitlines()) == 1, ingest.stderr

    env = postgres_environment(tmp_path, f"{base}/{own}")
    ingest = subprocess.run(
        [*SECTORBOT, "ingest", str(corpus)], env=env, capture_output=True, text=True, timeout=120
    )
    assert ingest.returncode == 0, ingest.stderr
    doctor = subprocess.run(
        [*SECTORBOT, "doctor", "--quick"], env=env, capture_output=True, text=True, timeout=120
    )
    assert f"OK    create    role {role} can create and migrate tables in public" in doctor.stdout


def test_the_readme_lists_every_telegram_command() -> None:
    from sectorbot.bot.telegram.commands import COMMANDS

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Telegram\n") : readme.index("Alerts are described in")]
    listed = set(re.findall(r"`/([a-z]+)", section))
    assert listed == {c.name for c in COMMANDS if c.menu}


@pytest.mark.slow
def test_a_missing_extra_names_the_install_that_keeps_the_checkout_editable(
    tmp_path: Path,
) -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert {"onnx", "postgres"} <= set(extras["optional-dependencies"])
    env = environment(tmp_path, SECTORBOT_EMBEDDING_BACKEND="onnx")
    done = subprocess.run(
        [*SECTORBOT, "search", "Myrnohrad"], env=env, capture_output=True, text=True, timeout=120
    )
    if "onnxruntime" in sys.modules or _installed("onnxruntime"):
        pytest.skip("onnxruntime is installed here: the hint cannot show")
    assert done.returncode != 0
    assert ".venv/bin/pip install -e '.[onnx]'" in done.stderr.strip().splitlines()[-1]


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


@pytest.mark.parametrize("command", ["run", "worker"])
@pytest.mark.slow
def test_telegram_out_of_reach_is_one_line_a_try_and_a_clean_stop(
    tmp_path: Path, command: str
) -> None:
    port = free_port()
    env = environment(
        tmp_path,
        TELEGRAM_BOT_TOKEN=REFUSED_TOKEN,
        SECTORBOT_TELEGRAM_API_URL=f"http://127.0.0.1:{port}/bot",
    )
    proc = subprocess.Popen(
        [*SECTORBOT, command], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while len([x for x in lines if "cannot reach Telegram" in x]) < 2:
        assert time.monotonic() < deadline and proc.poll() is None, lines
        lines.append(proc.stdout.readline())
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=30)
    output = "".join(lines) + rest
    assert proc.returncode == 0, output[-2000:]
    assert "Traceback" not in output
    tries = [x for x in output.splitlines() if "cannot reach Telegram" in x]
    assert tries[0].endswith("trying again in 2 s") and tries[1].endswith("trying again in 4 s")
    assert len(output.splitlines()) < 20, output


def test_eval_on_a_file_without_questions_fails_in_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "none.jsonl"
    empty.write_text("\n")
    done = subprocess.run(
        [*SECTORBOT, "eval", str(empty)],
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"Error: {empty} holds no questions (for --split all)"
    ]


def test_doctor_on_postgresql_does_not_check_a_left_over_sqlite_index(
    postgres_url: str, sample_service_dir: Path, tmp_path: Path
) -> None:
    shutil.copytree(sample_service_dir, tmp_path / "data")  # the SQLite setup before the move
    env = environment(tmp_path, SECTORBOT_DATABASE_URL=postgres_url)
    done = subprocess.run(
        [*SECTORBOT, "doctor", "--quick"], env=env, capture_output=True, text=True, timeout=120
    )
    names = [
        line.split()[1] for line in done.stdout.splitlines() if line[:4] in ("OK  ", "WARN", "FAIL")
    ]
    assert "backend" in names and "index" not in names and "lexical" not in names, done.stdout


def test_a_container_without_a_token_stops_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [*SECTORBOT, "run", "--telegram"],
        env=environment(tmp_path, TELEGRAM_BOT_TOKEN=""),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "TELEGRAM_BOT_TOKEN is empty or not set" in line and "docker/.env" in line
    assert not (tmp_path / "data" / "sectorbot.db").exists()  # nothing was loaded


async def test_an_empty_store_says_so_beside_i_dont_know(
    hash_embedder: object, tmp_path: Path
) -> None:
    from sectorbot.bot.cli.terminal import handle_line
    from sectorbot.bot.service import Service
    from sectorbot.bot.settings import Settings
    from tests.test_telegram import ADMIN, ALICE, running, say

    service = Service(Settings(data_dir=tmp_path / "empty"))
    try:
        service.ensure_index()
        line = handle_line(service, "What happened in Myrnohrad?")
        assert line is not None and line.startswith("I don't know")
        assert line.endswith("add some with `sectorbot ingest PATH|URL`.")
        with FakeBotAPI() as fake:
            fake.add_private_chat(ADMIN, "Ada", "ada")
            fake.add_private_chat(ALICE, "Alice", "alice", language_code="uk")
            async with running(fake, service):
                reply = await say(fake, ALICE, ALICE, "Що сталося в Мирнограді?")
            assert "У мене ще немає жодного повідомлення" in (reply.plain_text or "")
            assert fake.rejected == []
    finally:
        service.close()
