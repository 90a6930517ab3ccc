"""Every benchmark runs once at a tiny size, so a change that breaks one fails the suite
rather than the next person who reruns docs/benchmarks.md. The figures of a tiny run mean
nothing; its results go to a temporary folder, never over bench/results/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Each benchmark with the smallest arguments that still go through all of its code.
SMOKE = {
    "bench_ingest": (["--sizes", "20", "--repeat", "1"], "ingest.json"),
    "bench_morphology": ([], "morphology.json"),  # small already: the shared reports' words
    "bench_backends": (["--sizes", "20", "--repeat", "1", "--answers", "10"], "backends.json"),
    "bench_coldstart": (
        ["--embed-docs", "5", "--sizes", "50", "--backends", "sqlite"],
        "coldstart.json",
    ),
    "bench_query": (
        ["--sizes", "200", "--reindex-docs", "10", "--runs", "1"],
        "query.json",
    ),
    "bench_alerts": (
        ["--rounds", "1", "--chats", "2", "--subscriptions", "10", "--repeats", "1"],
        "alerts.json",
    ),
    "bench_telegram": (["--chats", "2", "--rounds", "1"], "telegram.json"),
    "bench_webhooks": (
        ["--chats", "2", "--questions", "1", "--rounds", "1"],
        "webhooks.json",
    ),
}


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.parametrize("name", SMOKE)
def test_each_benchmark_runs_at_a_tiny_size(name: str, tmp_path: Path) -> None:
    args, result = SMOKE[name]
    env = {
        **os.environ,
        "SECTORBOT_BENCH_RESULTS": str(tmp_path),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    written = json.loads((tmp_path / result).read_text())
    assert written, f"{name} wrote empty results"


def test_results_go_where_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.results_path import RESULTS_DIR, results_path

    monkeypatch.delenv("SECTORBOT_BENCH_RESULTS", raising=False)
    assert results_path("query.json") == RESULTS_DIR / "query.json"
    monkeypatch.setenv("SECTORBOT_BENCH_RESULTS", str(tmp_path))
    assert results_path("query.json") == tmp_path / "query.json"
    assert {p.stem for p in (ROOT / "bench").glob("bench_*.py")} == set(SMOKE)
