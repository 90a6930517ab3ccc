"""Ingest throughput on SQLite against PostgreSQL: the same corpus, the same code, one run.

Run from the repository root:  .venv/bin/python -m bench.bench_backends [--sizes 1000 10000]

Needs PostgreSQL's server binaries (Debian: `apt-get install postgresql`); the cluster is a
throwaway one on 127.0.0.1 under a temporary folder, started the way the tests start theirs
(`tests/pgserver.py`), except that it keeps PostgreSQL's durable defaults: the tests' cluster
turns fsync off, which would flatter PostgreSQL here.

The generated corpus (`bench/corpus_gen.py`) goes through the real `ingest` entry point from
one JSONL file, store only (no embedding), into a fresh store per round:

* `sqlite` — the default store: WAL, `synchronous=NORMAL` (a commit is atomic and survives a
  process crash; a power cut may lose the last few);
* `postgresql` — `synchronous_commit=off`, the same promise as the SQLite setting;
* `postgresql-sync` — PostgreSQL's default, `synchronous_commit=on`: each commit waits for its
  WAL to reach the disk.

Rounds interleave the three stores, so the machine's noise falls on all of them; each figure
is the median of the rounds, and each ratio the median of the per-round ratios to SQLite.
The size of each store after the ingest is recorded too (tables, indexes and full-text
index; no vectors, since nothing is embedded).

Then the one write every answer makes: `--answers` answers recorded for feedback (the row
that lets a 👎 be exported later), one transaction each, as a webhook worker records them;
answers/s and bytes per answer.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_ingest import ingest_twice, write_inputs
from bench.corpus_gen import ACTIONS, PLACES
from bench.results_path import results_path
from sectorbot.bot.feedback.store import FeedbackStore, RatedAnswer
from sectorbot.corpus.dates import stamp
from sectorbot.corpus.store import Store
from tests.pgserver import Cluster, binaries, fresh_schema

RESULTS = results_path("backends.json")
STORES = ("sqlite", "postgresql", "postgresql-sync")


def run_once(target: Path, store: Store, answers: int) -> dict[str, float]:
    report, first, second = ingest_twice(store, target, "store")
    chunks = store.db.scalar("SELECT count(*) FROM chunks")
    feedback = FeedbackStore(store)  # its tables, empty, before the size is taken
    size = store_bytes(store)
    started = time.perf_counter()
    record_answers(feedback, report.added, answers)
    writing = time.perf_counter() - started
    answer_bytes = store_bytes(store) - size
    store.close()
    docs = len(report.added)
    return {
        "documents": docs,
        "chunks": chunks,
        "seconds": first,
        "docs_per_s": docs / first,
        "chunks_per_s": chunks / first,
        "unchanged_pass_docs_per_s": docs / second,
        "bytes_per_document": size / docs,
        "answers_per_s": answers / writing,
        "bytes_per_answer": answer_bytes / answers,
    }


def record_answers(feedback: FeedbackStore, doc_ids: list[int], n: int) -> None:
    """n answers as the bot records them: a question, up to four cited reports, their ids."""
    rng = random.Random(n)
    for _ in range(n):
        cited = rng.sample(doc_ids, min(4, len(doc_ids)))
        question = f"Who {rng.choice(ACTIONS)} {rng.choice(PLACES)} in {rng.randint(2024, 2025)}?"
        refs = [f"jsonl:bench:{i}" for i in cited]
        feedback.record_answer(RatedAnswer(question, cited, refs), stamp())


def store_bytes(store: Store) -> int:
    """The store's size on disk: SQLite's file (WAL folded in), PostgreSQL's schema."""
    if store.path is not None:
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return sum(p.stat().st_size for p in store.path.parent.glob(store.path.name + "*"))
    size = store.db.scalar(
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"
    )
    return int(size)


def open_store(kind: str, folder: Path, base_url: str, label: str) -> Store:
    if kind == "sqlite":
        return Store(folder / f"{label}.db")
    commit = "on" if kind == "postgresql-sync" else "off"
    return Store(fresh_schema(base_url, synchronous_commit=commit))


def summarise(n: int, rounds: list[dict[str, dict[str, float]]]) -> list[dict[str, float]]:
    rows = []
    for kind in STORES:
        runs = [r[kind] for r in rounds]
        row: dict = {"size": n, "store": kind, "rounds": len(runs)}
        for key in ("documents", "chunks", "seconds", "docs_per_s", "chunks_per_s",
                    "unchanged_pass_docs_per_s", "bytes_per_document", "answers_per_s",
                    "bytes_per_answer"):  # fmt: skip
            row[key] = round(statistics.median(run[key] for run in runs), 2)
        ratios = [r[kind]["docs_per_s"] / r["sqlite"]["docs_per_s"] for r in rounds]
        row["ratio_to_sqlite"] = round(statistics.median(ratios), 3)
        row["ratio_per_round"] = [round(x, 3) for x in ratios]
        again = [r[kind]["unchanged_pass_docs_per_s"] / r["sqlite"]["unchanged_pass_docs_per_s"]
                 for r in rounds]  # fmt: skip
        row["unchanged_ratio_to_sqlite"] = round(statistics.median(again), 3)
        answers = [r[kind]["answers_per_s"] / r["sqlite"]["answers_per_s"] for r in rounds]
        row["answers_ratio_to_sqlite"] = round(statistics.median(answers), 3)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3, help="rounds per size; medians reported")
    parser.add_argument("--answers", type=int, default=2000, help="answers recorded per round")
    args = parser.parse_args()
    bin_dir = binaries()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    cluster = Cluster(bin_dir, durable=True)
    # Stopped from outside (kill): still stop the cluster and remove its folder.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    rows = []
    try:
        base_url = cluster.start()
        with tempfile.TemporaryDirectory() as tmp:
            for n in args.sizes:
                folder = Path(tmp) / str(n)
                folder.mkdir()
                jsonl, _ = write_inputs(n, folder)
                rounds = []
                for r in range(args.repeat):
                    this_round = {}
                    for kind in STORES:
                        store = open_store(kind, folder, base_url, f"{kind}-{r}")
                        this_round[kind] = run = run_once(jsonl, store, args.answers)
                        rate = run["docs_per_s"]
                        print(f"{n} {kind} round {r + 1}: {rate:.0f} documents/s", flush=True)
                    rounds.append(this_round)
                rows += summarise(n, rounds)
    finally:
        cluster.stop()
    print("| documents | store | passages | documents/s | passages/s | ratio to SQLite (rounds) "
          "| unchanged re-run, documents/s | bytes per document |")  # fmt: skip
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        per_round = " / ".join(f"{x:.2f}" for x in r["ratio_per_round"])
        print(
            f"| {r['size']} | {r['store']} | {r['chunks']:.0f} | {r['docs_per_s']:.0f} | "
            f"{r['chunks_per_s']:.0f} | {r['ratio_to_sqlite']:.2f} ({per_round}) | "
            f"{r['unchanged_pass_docs_per_s']:.0f} | {r['bytes_per_document']:,.0f} |"
        )
    print()
    print("| documents stored | store | answers recorded/s | ratio to SQLite | bytes per answer |")
    print("|---:|---|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['size']} | {r['store']} | {r['answers_per_s']:.0f} | "
            f"{r['answers_ratio_to_sqlite']:.2f} | {r['bytes_per_answer']:.0f} |"
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
