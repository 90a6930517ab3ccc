"""Telegram end to end with 1 and then 2 webhook workers on one PostgreSQL store.

    .venv/bin/python -m bench.bench_webhooks [--chats 16] [--questions 6] [--rounds 2]

A throwaway PostgreSQL cluster holds the sample corpus and its passage vectors. For each
worker count, that many `sectorbot run` processes serve webhooks; the benchmark plays the
load balancer (round robin) and Telegram: `--chats` private chats each post a question,
wait for the reply on the fake Bot API server, and post the next. Latency runs from the
POST to the reply recorded by the fake server (one process, one clock). The worker counts
alternate over `--rounds` so that a noisy neighbour hits both; the ratio is the median
throughput of 2 workers over that of 1, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx

from bench.bench_telegram import load_questions, percentile
from bench.results_path import results_path
from tests.fakebotapi import FakeBotAPI
from tests.pgserver import Cluster, binaries, fresh_schema
from tests.test_workers_processes import (
    Processes,
    environment,
    free_port,
    listening,
    seed_sample,
    update,
)

RESULTS = results_path("webhooks.json")
SECRET = "bench-Secret_1"
FIRST_CHAT = 50_000


async def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def one_round(
    fake: FakeBotAPI, url: str, folder: Path, workers: int, chats: int, questions: list[str],
    per_chat: int, first_update: int,
) -> dict[str, Any]:  # fmt: skip
    """One measurement; update ids start at `first_update` (the store remembers every id it
    has answered, so a round reusing ids would have its updates dropped as repeats)."""
    processes = Processes(folder)
    ports = [free_port() for _ in range(workers)]
    try:
        for n, port in enumerate(ports):
            env = environment(fake, url, folder / f"w{n}", webhook_url=f"https://127.0.0.1:{port}/hook",
                              webhook_port=port, webhook_secret=SECRET,
                              questions_per_minute=10_000)  # fmt: skip
            # Workers sharing one machine split its cores, as a deployment there should: more
            # model threads than cores only makes the processes take turns.
            env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
            processes.start(f"w{workers}-{n}", "run", env)
        await wait_until(lambda: all(listening(p) for p in ports), 300, "webhooks listening")
        hooks = [f"http://127.0.0.1:{p}/hook" for p in ports]
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        latencies: list[float] = []
        turn = iter(range(first_update, first_update + 10**6))
        async with httpx.AsyncClient(trust_env=False, timeout=120) as http:
            # One warm-up question per worker: the first answer loads what is loaded lazily.
            for n, hook in enumerate(hooks):
                chat = FIRST_CHAT - 1 - n
                fake.add_private_chat(chat, "Warm", f"warm{n}")
                before = len(fake.messages_to(chat))
                await http.post(hook, json=update(next(turn), chat, questions[0]), headers=headers)
                await wait_until(lambda c=chat, b=before: len(fake.messages_to(c)) > b, 300,
                                 "the warm-up answer")  # fmt: skip

            async def chat_loop(chat: int) -> None:
                # Each chat its own run of the question set, so that answers are not all
                # served from what the first few left in a worker's caches.
                offset = (chat - FIRST_CHAT) * per_chat
                mine = [questions[(offset + i) % len(questions)] for i in range(per_chat)]
                for question in mine:
                    n = next(turn)
                    before = len(fake.messages_to(chat))
                    started = time.monotonic()
                    body = update(n, chat, question)
                    await http.post(hooks[n % workers], json=body, headers=headers)
                    while len(fake.messages_to(chat)) <= before:
                        await asyncio.sleep(0.01)
                    latencies.append(time.monotonic() - started)

            for c in range(chats):
                fake.add_private_chat(FIRST_CHAT + c, "Reader", f"reader{c}")
            started = time.monotonic()
            await asyncio.gather(*(chat_loop(FIRST_CHAT + c) for c in range(chats)))
            elapsed = time.monotonic() - started
    finally:
        processes.stop_all()
    return {"workers": workers, "answers": len(latencies),
            "questions_per_s": round(len(latencies) / elapsed, 2),
            "p50_ms": round(statistics.median(latencies) * 1000),
            "p95_ms": round(percentile(latencies, 0.95) * 1000)}  # fmt: skip


async def run(chats: int, per_chat: int, rounds: int) -> dict[str, Any]:
    bin_dir = binaries()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
    cluster = Cluster(bin_dir)
    base = cluster.start()
    results: list[dict[str, Any]] = []
    try:
        url = fresh_schema(base)
        with tempfile.TemporaryDirectory() as tmp:
            seed_sample(url, Path(tmp) / "seed")
            questions = load_questions(10**6)
            with FakeBotAPI() as fake:
                for r in range(rounds):
                    for workers in (1, 2) if r % 2 == 0 else (2, 1):
                        folder = Path(tmp) / f"r{r}-w{workers}"
                        folder.mkdir()
                        first = (len(results) + 1) * 10**6
                        row = await one_round(fake, url, folder, workers, chats, questions,
                                              per_chat, first)  # fmt: skip
                        print(row, flush=True)
                        results.append(row)
    finally:
        cluster.stop()
    summary = {}
    for workers in (1, 2):
        rows = [r for r in results if r["workers"] == workers]
        summary[workers] = {
            "questions_per_s": statistics.median(r["questions_per_s"] for r in rows),
            "p95_ms": statistics.median(r["p95_ms"] for r in rows),
            "p50_ms": statistics.median(r["p50_ms"] for r in rows),
        }
    ratio = summary[2]["questions_per_s"] / summary[1]["questions_per_s"]
    return {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "chats": chats,
            "questions_per_chat": per_chat, "rounds": results, "summary": summary,
            "throughput_ratio_2_to_1": round(ratio, 2),
            "p95_ratio_2_to_1": round(summary[2]["p95_ms"] / summary[1]["p95_ms"], 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, default=16)
    parser.add_argument("--questions", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    result = asyncio.run(run(args.chats, args.questions, args.rounds))
    print(json.dumps(result["summary"], indent=2), "ratio", result["throughput_ratio_2_to_1"])
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
