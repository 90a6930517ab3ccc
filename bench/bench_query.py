"""Query latency, reindex throughput, incremental reindex cost and memory.

Run from the repository root:  .venv/bin/python -m bench.bench_query [--sizes 1000 10000 100000]

* Query latency: the full answer path (query embedding + hybrid search + answer) against
  the floor measured in the same run on the same questions (query embedding + exact FAISS
  search alone), p50/p95 per corpus size; each figure is the median of --runs runs.
* Passage and sentence vectors for the large corpora: embedding 100k passages takes about
  an hour on two cores (and their sentences as long again), so each size embeds POOL (500)
  real generated passages and their sentences, and gives every other passage (sentence)
  the vector of one of those plus small noise. Search cost does not depend on what the
  vectors say; the SQLite store holds the full generated text and the sentence table the
  real spans of every passage, written by the same code a reindex uses.
* Reindex throughput: a full `VectorIndex.reindex` (passage and sentence vectors) against
  `SentenceTransformer.encode` of the passages alone (with the model's passage prefix) at
  the same batch size. Incremental:
  +1% documents against a full rebuild.
* Size: the index directory's files per corpus size, and the process's resident memory
  (anonymous and file-backed: the sentence vectors are memory-mapped) after the runs.
* Approximate index: recall@10 of the IVF index against exact search at the largest size.
* Lexical index: building the in-memory BM25 index from the store, and loading it again
  from its saved file, per corpus size.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from bench.corpus_gen import PLACES, documents
from bench.results_path import results_path
from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings
from sectorbot.index.answer import compose
from sectorbot.index.lexical import LexicalIndex
from sectorbot.index.sentence_table import TableWriter
from sectorbot.index.sentences import sentence_texts
from sectorbot.index.vectors import build_ivf

RESULTS = results_path("query.json")
POOL = 500  # passages really embedded per corpus; the others get one of their vectors + noise
SENTENCE_POOL = 100  # passages whose sentences are really embedded (about 900 sentences)
QUESTIONS = [
    "What happened near {p} this week?", "Who holds {p}?", "latest on {p}",
    "Were civilians evacuated from {p}?", "drone strikes on logistics around {p}",
    "Did Russian forces capture {p}?", "How many people remain in {p}?",
    "fighting in the industrial zone of {p} since:2025-01-01",
]  # fmt: skip


def questions(n: int = 60) -> list[str]:
    return [QUESTIONS[i % len(QUESTIONS)].format(p=PLACES[(i * 7) % 18]) for i in range(n)]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def build(size: int, folder: Path) -> Service:
    """A store of about `size` chunks and an exact index with stand-in vectors."""
    service = Service(Settings(data_dir=folder))
    for doc in documents(max(1, size // 2), seed=size):  # ~300 words → 2 chunks
        service.store.upsert_document(doc)
    ids = np.asarray(service.store.chunk_ids(), dtype=np.int64)
    pool_ids = ids[: min(POOL, len(ids))]
    texts = [t for batch in service.store.iter_chunk_texts([int(i) for i in pool_ids])
             for _, t in batch]  # fmt: skip
    pool = service.embedder.encode_passages(texts)
    rng = np.random.default_rng(0)
    vectors = stand_ins(pool, len(ids), rng)
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    index.add_with_ids(vectors, ids)
    sentence_pool = service.embedder.encode_passages(sentence_texts(texts[:SENTENCE_POOL])[1])
    generation = int(time.time() * 1000)
    service.vectors.directory.mkdir(parents=True, exist_ok=True)
    writer = TableWriter(service.vectors.directory / f"sentences-{generation}.bin",
                         service.embedder.model_id, pool.shape[1])  # fmt: skip
    for rows in service.store.iter_chunk_texts([int(i) for i in ids], batch=2000):
        spans, sentences = sentence_texts([text for _, text in rows])
        writer.add([cid for cid, _ in rows], spans, stand_ins(sentence_pool, len(sentences), rng))
    service.vectors._commit(index, ids, writer)
    return service


def stand_ins(pool: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n unit vectors, each one of the pool's plus small noise."""
    picks = pool[rng.integers(0, len(pool), n)] + rng.normal(0, 0.02, (n, pool.shape[1]))
    return (picks / np.linalg.norm(picks, axis=1, keepdims=True)).astype(np.float32)


def footprint(service: Service) -> dict[str, Any]:
    """Index files on disk and the process's resident memory, in MB."""
    directory = service.vectors.directory
    files = {p.name.split("-")[0].split(".")[0]: round(p.stat().st_size / 2**20, 1)
             for p in directory.iterdir() if p.is_file()}  # fmt: skip
    status = Path("/proc/self/status").read_text().splitlines()
    memory = {line.split(":")[0]: round(int(line.split()[1]) / 1024, 1) for line in status
              if line.startswith(("VmRSS", "RssAnon", "RssFile"))}  # fmt: skip
    table = service.vectors.sentences
    return {"disk_mb": files, "sentences": int(table.offsets[-1]) if table else 0,
            "rss_mb": memory,
            # Passages whose sentences an answer had to embed: 0 when the table serves all.
            "embedded_at_question_time": len(service.retriever.sentences._cache)}  # fmt: skip


def latency(service: Service, qs: list[str], rounds: int = 3) -> dict[str, float]:
    full: list[float] = []
    floor: list[float] = []
    for q in qs[:5]:  # warm caches and the model
        compose(service.search(q))
    for _ in range(rounds):
        for q in qs:
            started = time.perf_counter()
            vec = service.embedder.encode_queries([q])[0]
            service.vectors.search(vec, 60)
            floor.append(time.perf_counter() - started)
            started = time.perf_counter()
            compose(service.search(q))
            full.append(time.perf_counter() - started)
    return {"floor_p50_ms": pct(floor, 50), "floor_p95_ms": pct(floor, 95),
            "answer_p50_ms": pct(full, 50), "answer_p95_ms": pct(full, 95),
            "p95_ratio": pct(full, 95) / pct(floor, 95)}  # fmt: skip


def lexical_costs(service: Service) -> dict[str, float]:
    """Build the lexical index from the store (what a first start does), then load it."""
    started = time.perf_counter()
    service.retriever.lexical_index.refresh()
    built = time.perf_counter() - started
    started = time.perf_counter()
    LexicalIndex(service.store, service.settings.index_dir).refresh()
    loaded = time.perf_counter() - started
    return {"lexical_build_s": round(built, 2), "lexical_load_s": round(loaded, 3)}


def ivf_recall(service: Service, qs: list[str]) -> dict[str, float]:
    index = service.vectors.index
    vectors = index.index.reconstruct_n(0, index.ntotal)
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    ivf = build_ivf(vectors, ids)
    out: dict[str, float] = {}
    queries = service.embedder.encode_queries(qs)
    _, exact = index.search(queries, 10)
    for nprobe in (8, 24, 64):
        ivf.nprobe = nprobe
        started = time.perf_counter()
        _, approx = ivf.search(queries, 10)
        seconds = (time.perf_counter() - started) / len(qs)
        hits = [len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)]
        out[f"nprobe_{nprobe}"] = {"recall@10": round(statistics.mean(hits), 3),
                                   "ms_per_query": round(seconds * 1000, 2)}  # fmt: skip
    started = time.perf_counter()
    index.search(queries, 10)
    out["exact_ms_per_query"] = round((time.perf_counter() - started) / len(qs) * 1000, 2)
    return out


def reindex_costs(folder: Path, docs: int = 1000) -> dict[str, Any]:
    service = Service(Settings(data_dir=folder))
    for doc in documents(docs, seed=7):
        service.store.upsert_document(doc)
    texts = [t for batch in service.store.iter_chunk_texts(service.store.chunk_ids())
             for _, t in batch]  # fmt: skip
    embedder = service.embedder
    embedder.encode_passages(texts[:64])  # warm up
    started = time.perf_counter()
    embedder.encode_passages(texts)  # the model's own encode, with its passage prefix
    raw = time.perf_counter() - started
    full = service.reindex(full=True)
    sentences = full.sentences
    for doc in documents(docs // 100, seed=8):
        service.store.upsert_document(doc)
    incremental = service.reindex()
    service.close()
    return {"chunks": len(texts), "raw_encode_chunks_per_s": round(len(texts) / raw, 1),
            "reindex_chunks_per_s": round(len(texts) / full.seconds, 1),
            "reindex_vs_raw": round(raw / full.seconds, 3), "sentences": sentences,
            "full_seconds": round(full.seconds, 2),
            "incremental_seconds": round(incremental.seconds, 3),
            "incremental_added": incremental.added,
            "incremental_vs_full": round(incremental.seconds / full.seconds, 4)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--reindex-docs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3, help="latency runs per size (medians)")
    args = parser.parse_args()
    qs = questions()
    results: dict[str, Any] = {"latency": {}, "ivf": None}
    with tempfile.TemporaryDirectory() as tmp:
        results["reindex"] = reindex_costs(Path(tmp) / "reindex", args.reindex_docs)
        for size in args.sizes:
            service = build(size, Path(tmp) / f"q{size}")
            lexical = lexical_costs(service)
            runs = [latency(service, qs) for _ in range(args.runs)]
            medians = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
            medians["p95_ratio_runs"] = [round(r["p95_ratio"], 3) for r in runs]
            results["latency"][size] = {"chunks": service.vectors.manifest.count,
                                        **lexical, **medians, **footprint(service)}  # fmt: skip
            if size == max(args.sizes):
                results["ivf"] = ivf_recall(service, qs)
            service.close()
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(results, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
