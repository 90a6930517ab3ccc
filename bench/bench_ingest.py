"""Ingest throughput: documents/s and chunks/s for generated corpora of 1k and 10k documents.

Run from the repository root:  .venv/bin/python -m bench.bench_ingest [--sizes 1000 10000]
Each size is ingested twice through the real `ingest` entry point, from a JSONL file and
from a folder of Markdown files, into a fresh SQLite store; a second pass over the same
input (everything unchanged) is timed too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.corpus_gen import documents
from bench.results_path import results_path
from sectorbot.corpus.ingest import IngestReport, ingest
from sectorbot.corpus.store import Store

RESULTS = results_path("ingest.json")


def write_inputs(n: int, folder: Path) -> tuple[Path, Path]:
    jsonl = folder / f"docs-{n}.jsonl"
    md_dir = folder / f"md-{n}"
    md_dir.mkdir()
    with jsonl.open("w") as out:
        for i, d in enumerate(documents(n, seed=n)):
            out.write(json.dumps({"id": f"bench:{i}", "title": d.title, "source": d.source,
                                  "url": d.url, "published": d.published, "lang": "en",
                                  "text": d.text}) + "\n")  # fmt: skip
            front = (
                f"---\ntitle: {d.title}\nsource: {d.source}\nurl: {d.url}\n"
                f"date: {d.published}\n---\n"
            )
            (md_dir / f"{i:05}.md").write_text(front + d.text)
    return jsonl, md_dir


def ingest_twice(store: Store, target: Path, label: str) -> tuple[IngestReport, float, float]:
    """Ingest `target`, then again (everything unchanged); the first report and both times."""
    started = time.perf_counter()
    # The 10k JSONL file is ~23 MB: above the default per-file cap, as a bulk file may be.
    report = ingest(store, [str(target)], max_bytes=200_000_000)
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = ingest(store, [str(target)], max_bytes=200_000_000)
    second = time.perf_counter() - started
    if report.failed or len(again.unchanged) != len(report.added):
        raise SystemExit(f"{label}: unexpected ingest result: {report.summary()} / "
                         f"{again.summary()} {report.failed[:3]}")  # fmt: skip
    return report, first, second


def run_once(target: Path, folder: Path, label: str) -> dict[str, float]:
    store = Store(folder / f"{label}.db")
    report, first, second = ingest_twice(store, target, label)
    chunks = store.db.scalar("SELECT count(*) FROM chunks")
    store.close()
    docs = len(report.added)
    return {"documents": docs, "chunks": chunks, "seconds": round(first, 2),
            "docs_per_s": round(docs / first, 1), "chunks_per_s": round(chunks / first, 1),
            "unchanged_pass_docs_per_s": round(docs / second, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; medians reported")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            folder = Path(tmp) / str(n)
            folder.mkdir()
            jsonl, md_dir = write_inputs(n, folder)
            for label, target in (("jsonl", jsonl), ("markdown", md_dir)):
                runs = [run_once(target, folder, f"{label}-{r}") for r in range(args.repeat)]
                med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                rows.append({"size": n, "input": label, **med})
    print("| documents | input | chunks | docs/s | chunks/s | unchanged re-run docs/s |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['size']} | {r['input']} | {r['chunks']:.0f} | {r['docs_per_s']} | "
              f"{r['chunks_per_s']} | {r['unchanged_pass_docs_per_s']} |")  # fmt: skip
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
