"""A worker's cold start: its vector index built from the vectors in the store, against
embedding the passages again, on SQLite and on PostgreSQL.

Run from the repository root:  .venv/bin/python -m bench.bench_coldstart [--sizes 20000]

Part one embeds a small generated corpus for real (the first build, which stores each
passage's vector), then times fresh in-memory indexes built from the store (what a new
webhook worker does) — the ratio of the two is the saving, measured in one run. Part two
times the cold start alone at larger sizes, with stored vectors that are random unit vectors
(their values do not change how long reading them takes), and sets it beside what embedding
that many passages would take at the rate part one measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from bench.corpus_gen import documents
from bench.results_path import results_path
from sectorbot.corpus.store import Store
from sectorbot.index.embedding import get_embedder
from sectorbot.index.vectors import VectorIndex

RESULTS = results_path("coldstart.json")
MODEL = "all-MiniLM-L6-v2"


@contextmanager
def stores(folder: Path, backends: list[str]) -> Iterator[dict[str, str]]:
    """A SQLite path and, when asked, a throwaway PostgreSQL cluster's URL per backend."""
    targets = {"sqlite": str(folder / "bench.db")} if "sqlite" in backends else {}
    cluster = None
    if "postgresql" in backends:
        from tests.pgserver import Cluster, binaries

        bin_dir = binaries()
        if bin_dir is None:
            raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
        cluster = Cluster(bin_dir)
        targets["postgresql"] = cluster.start()
    try:
        yield targets
    finally:
        if cluster:
            cluster.stop()


def fill(store: Store, docs: int, seed: int) -> int:
    for doc in documents(docs, seed=seed):
        store.upsert_document(doc)
    return store.chunk_count()


def cold_start(store: Store, rounds: int = 3) -> float:
    """Median seconds for a new in-memory index to take every stored vector."""
    embedder = get_embedder(MODEL)
    times = []
    for _ in range(rounds):
        index = VectorIndex(None, store, embedder)
        started = time.perf_counter()
        result = index.reindex()
        times.append(time.perf_counter() - started)
        if result.embedded or result.total != store.chunk_count():
            raise SystemExit(f"cold start embedded {result.embedded} passages")
    return statistics.median(times)


def embedded_vs_stored(target: str, docs: int) -> dict[str, float]:
    store = Store(target)
    passages = fill(store, docs, seed=1)
    embedder = get_embedder(MODEL)
    embedder.encode_passages(["warm up"])
    started = time.perf_counter()
    first = VectorIndex(None, store, embedder).reindex()
    embed_s = time.perf_counter() - started
    cold_s = cold_start(store)
    store.close()
    return {"passages": passages, "embedded": first.embedded, "embed_s": round(embed_s, 2),
            "embed_passages_per_s": round(passages / embed_s, 1),
            "cold_start_s": round(cold_s, 3), "ratio": round(embed_s / cold_s, 1)}  # fmt: skip


def stored_only(target: str, passages: int, embed_rate: float) -> dict[str, float]:
    store = Store(target)
    have = fill(store, passages // 2, seed=2)
    rng = np.random.default_rng(0)
    ids = store.chunk_ids()
    for start in range(0, len(ids), 2000):
        part = ids[start : start + 2000]
        vectors = rng.standard_normal((len(part), 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.vectors.store_vectors([(i, v.tobytes()) for i, v in zip(part, vectors, strict=True)],
                            MODEL, "torch")  # fmt: skip
    cold_s = cold_start(store)
    store.close()
    embed_s = have / embed_rate
    return {"passages": have, "cold_start_s": round(cold_s, 2),
            "embedding_again_s_estimated": round(embed_s),
            "ratio": round(embed_s / cold_s, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embed-docs", type=int, default=300)
    parser.add_argument("--sizes", type=int, nargs="*", default=[20000])
    parser.add_argument("--backends", nargs="*", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp, stores(Path(tmp), args.backends) as targets:
        for backend, target in targets.items():
            measured = embedded_vs_stored(target, args.embed_docs)
            print(backend, "embedded vs stored:", measured, flush=True)
            results[backend] = {"embedded_vs_stored": measured, "stored_only": []}
        for backend, target in targets.items():
            rate = results[backend]["embedded_vs_stored"]["embed_passages_per_s"]
            for size in args.sizes:
                fresh = target
                if backend == "sqlite":
                    fresh = str(Path(tmp) / f"big-{size}.db")
                else:
                    from tests.pgserver import fresh_schema

                    fresh = fresh_schema(target)
                row = stored_only(fresh, size, rate)
                print(backend, "stored only:", row, flush=True)
                results[backend]["stored_only"].append(row)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
