"""Log lines: JSON that collectors can parse, plain lines for people, never the bot token."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sectorbot.bot.logs import configure
from tests.commands import SECTORBOT
from tests.fakebotapi import FakeBotAPI

# Shaped like a real token (digits, a colon, 35 characters) but not one.
TOKEN = "7012345678:AAF3kq9ZLx0vbN_2mRtY8wPq-5sUeHjK1cD"
FORMATS = ("plain", "json")


@pytest.fixture
def capture() -> Iterator[io.StringIO]:
    """Whatever `configure` sets up, writing into a buffer; the old logging state returns."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buffer = io.StringIO()
    yield buffer
    root.handlers[:], level = saved
    root.setLevel(level)


def configured(fmt: str, buffer: io.StringIO) -> logging.Logger:
    configure("DEBUG", fmt)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    return logging.getLogger("sectorbot.test")


def raise_with_token() -> None:
    try:
        raise ConnectionError(f"POST https://api.telegram.org/bot{TOKEN}/getUpdates failed")
    except ConnectionError as exc:
        raise RuntimeError(f"polling stopped for {TOKEN}") from exc


def test_json_lines_parse_and_carry_level_logger_message(capture: io.StringIO) -> None:
    log = configured("json", capture)
    log.info("ingested %d documents from %s", 3, "Мирноград.md")
    log.warning("feed %s unreachable", "https://example.org/rss")
    logging.getLogger("corpus.ingest").error("plain message, no arguments")
    records = [json.loads(line) for line in capture.getvalue().splitlines()]
    assert [(r["level"], r["logger"]) for r in records] == [
        ("INFO", "sectorbot.test"),
        ("WARNING", "sectorbot.test"),
        ("ERROR", "corpus.ingest"),
    ]
    assert records[0]["message"] == "ingested 3 documents from Мирноград.md"
    assert records[1]["message"] == "feed https://example.org/rss unreachable"
    assert all(r["time"] and "exc" not in r for r in records)


def test_json_exception_is_one_parsable_line(capture: io.StringIO) -> None:
    log = configured("json", capture)
    try:
        raise ValueError("bad value")
    except ValueError:
        log.exception("reindex failed")
    lines = capture.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["message"] == "reindex failed" and record["level"] == "ERROR"
    assert "ValueError: bad value" in record["exc"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_token_in_a_message_is_redacted(fmt: str, capture: io.StringIO) -> None:
    log = configured(fmt, capture)
    log.info("GET https://api.telegram.org/bot%s/getMe", TOKEN)  # in the arguments
    log.info(f"token {TOKEN} in the format string itself")
    log.debug("twice: %s and %s", TOKEN, TOKEN)
    text = capture.getvalue()
    assert TOKEN not in text and TOKEN.split(":")[1] not in text
    assert text.count("<token>") == 4
    assert "https://api.telegram.org/bot<token>/getMe" in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_token_in_an_exception_is_redacted(fmt: str, capture: io.StringIO) -> None:
    log = configured(fmt, capture)
    try:
        raise_with_token()
    except RuntimeError:
        log.exception("the bot stopped")
    text = capture.getvalue()
    assert TOKEN not in text and TOKEN.split(":")[1] not in text
    # The traceback is still there (both exceptions of the chain), only the token is masked.
    assert "RuntimeError: polling stopped for <token>" in text
    assert "bot<token>/getUpdates" in text
    if fmt == "json":
        assert json.loads(text)["message"] == "the bot stopped"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_database_password_is_masked(fmt: str, capture: io.StringIO) -> None:
    log = configured(fmt, capture)
    url = "postgresql://sectorbot:s3cr3t-Pa55@db.example.org:5432/sectorbot"
    log.warning("cannot reach %s", url)
    try:
        raise ConnectionError(f"lost {url}")
    except ConnectionError:
        log.exception("the pool gave up")
    text = capture.getvalue()
    assert "s3cr3t-Pa55" not in text
    assert text.count("postgresql://sectorbot:***@db.example.org:5432/sectorbot") == 2
    log.info("see https://example.org/page and ftp://host/file")  # no password: untouched
    assert "https://example.org/page and ftp://host/file" in capture.getvalue()


@pytest.mark.parametrize("fmt", FORMATS)
def test_things_that_only_look_a_bit_like_tokens_stay(fmt: str, capture: io.StringIO) -> None:
    log = configured(fmt, capture)
    log.info("chat 12345: answered at 2025-01-06T10:00:00 in 0.2 s")
    assert "chat 12345: answered at 2025-01-06T10:00:00" in capture.getvalue()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_rejected_token_is_never_printed(
    fmt: str, tmp_path: Path, sample_service_dir: Path
) -> None:
    """Telegram answers 401: one line saying so, exit 2, and the token nowhere in the output."""
    # The sample corpus with its index already built: the bot gets to Telegram at once.
    shutil.copytree(sample_service_dir, tmp_path / "data")
    with FakeBotAPI() as api:  # it knows only its own token, so it refuses this one
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "HF_HUB_OFFLINE": "1",
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "SECTORBOT_TELEGRAM_API_URL": api.base_url,
            "SECTORBOT_DATA_DIR": str(tmp_path / "data"),
            "SECTORBOT_LOG_FORMAT": fmt,
        }
        proc = subprocess.run(
            [*SECTORBOT, "run"], env=env, capture_output=True, text=True, timeout=300
        )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output[-2000:]
    assert TOKEN.split(":")[1] not in output
    assert "Telegram rejected TELEGRAM_BOT_TOKEN" in proc.stderr.splitlines()[-1]


def test_an_uncaught_exception_is_printed_without_the_token(tmp_path: Path) -> None:
    code = (
        "from sectorbot.bot.logs import redact_uncaught; redact_uncaught(); "
        f"raise RuntimeError('rejected: {TOKEN}')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "RuntimeError: rejected: <token>" in proc.stderr and TOKEN not in proc.stderr
