"""Several processes writing one PostgreSQL store: two ingests of the same reports at once,
one of them killed with SIGKILL halfway. Nothing may be lost, stored twice or half-stored."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from tests.test_crash import cli, write_corpus


def count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute(sql).fetchone()[0])


def assert_consistent(url: str) -> None:
    """Every document has all its passages in order, and no passage is an orphan."""
    lonely = count(url, "SELECT count(*) FROM documents d WHERE NOT EXISTS "
                        "(SELECT 1 FROM chunks c WHERE c.document_id = d.id)")  # fmt: skip
    gaps = count(url, "SELECT count(*) FROM (SELECT document_id FROM chunks GROUP BY "
                      "document_id HAVING max(ordinal) + 1 != count(*)) g")  # fmt: skip
    assert (lonely, gaps) == (0, 0)


@pytest.mark.slow
def test_racing_ingests_and_a_killed_one_lose_and_duplicate_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    reports = write_corpus(tmp_path / "reports", 120, seed=7, sentences=30)
    env = {**os.environ, "SECTORBOT_DATABASE_URL": postgres_url}
    data = tmp_path / "data"

    def start() -> subprocess.Popen:
        command = cli(data, "ingest", "--no-index", tmp_path / "reports")
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip

    doomed, survivor = start(), start()
    deadline = time.monotonic() + 120
    while True:
        try:
            if count(postgres_url, "SELECT count(*) FROM documents") >= 30:
                break
        except psycopg.errors.UndefinedTable:  # the schema is still being created
            pass
        assert doomed.poll() is None and time.monotonic() < deadline, "ingest ended too soon"
        time.sleep(0.01)
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate()
    out, err = survivor.communicate(timeout=300)
    assert survivor.returncode == 0, out + err

    again = subprocess.run(cli(data, "ingest", "--no-index", tmp_path / "reports"), env=env,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"unchanged {len(reports)}, failed 0" in again.stdout
    assert count(postgres_url, "SELECT count(*) FROM documents") == len(reports)
    assert count(postgres_url, "SELECT count(DISTINCT content_hash) FROM documents") == len(reports)
    assert_consistent(postgres_url)
