"""A database password never reaches a person or a log line, however the URL was written."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from sectorbot.corpus.redact import redact_secrets
from tests.commands import SECTORBOT
from tests.conftest import free_port


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("postgresql://bot:hunter2@db.internal/x", "hunter2"),
        ("postgresql://bot:p@ss@word@127.0.0.1:5432/x", "ss@word"),  # "@" left unencoded
        ("postgresql://bot:p@ss@word@127.0.0.1:5432/x", "p@ss"),
        ("postgresql://bot@db/x?password=hunter2&sslmode=require", "hunter2"),
        ("postgresql://db/x?sslmode=require&PASSWORD=hunter2", "hunter2"),
        ("host=db user=bot password='hun ter2' dbname=x", "hun ter2"),
        ('missing "]" in IPv6 host address in URL: "postgresql://bot:hunter2@[::1/x"', "hunter2"),
        ("failed: postgresql://bot:s3cr%40t@host/x was refused", "s3cr%40t"),
    ],
)
def test_every_shape_of_password_is_masked(text: str, secret: str) -> None:
    masked = redact_secrets(text)
    assert secret not in masked and "***" in masked, masked


def test_what_is_not_a_password_stays() -> None:
    for text in (
        "https://kyivindependent.com/pokrovsk-train-station/",
        "postgresql://bot@db.internal/x",
        "see https://t.me/DeepStateUA/123 and mailto:press@example.org",
    ):
        assert redact_secrets(text) == text
    assert redact_secrets("postgresql://bot:pw@db/x") == "postgresql://bot:***@db/x"


def run(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SECTORBOT_DATA_DIR": str(tmp_path / "data"),
        "SECTORBOT_DATABASE_URL": url,
        "SECTORBOT_LOG_FORMAT": "json",
        "SECTORBOT_LOG_LEVEL": "DEBUG",
    }
    return subprocess.run([*SECTORBOT, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize(
    ("template", "secrets"),
    [
        ("postgresql://bot:p@ss@word@127.0.0.1:{port}/x", ["p@ss", "ss@word"]),
        ("postgresql://bot@127.0.0.1:{port}/x?password=hunter2", ["hunter2"]),
        ("postgresql://bot:hunter2@[::1:{port}/x", ["hunter2"]),
    ],
)
@pytest.mark.parametrize("command", [["stats"], ["doctor", "--quick"]])
def test_stats_doctor_and_json_logs_never_show_the_password(
    tmp_path: Path, template: str, secrets: list[str], command: list[str]
) -> None:
    done = run(tmp_path, template.format(port=free_port()), *command)
    shown = done.stdout + done.stderr
    assert shown.strip(), "the command said nothing"
    for secret in secrets:
        assert secret not in shown, shown
    assert "Traceback" not in shown
    for line in done.stderr.splitlines():
        if line.startswith("{"):
            json.loads(line)  # log lines stay parsable JSON after masking
