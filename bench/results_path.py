"""Where a benchmark writes its results: `bench/results/NAME` unless
`SECTORBOT_BENCH_RESULTS` names another folder, as the suite's smoke runs do, so that a tiny
run never overwrites the measured figures that docs/benchmarks.md quotes."""

from __future__ import annotations

import os
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def results_path(name: str) -> Path:
    folder = os.environ.get("SECTORBOT_BENCH_RESULTS")
    return (Path(folder) if folder else RESULTS_DIR) / name
