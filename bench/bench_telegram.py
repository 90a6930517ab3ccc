"""End-to-end Telegram benchmark: 20 chats asking at once, through the fake Bot API over HTTP.

Each chat asks its questions one after another (it waits for the reply before the next), so
20 questions are in flight at any time. Latency runs from `send_text` (the user's message
queued on the fake server) to the server recording the reply (one process, one monotonic
clock), so it includes long polling, the handler, the answer, the rate limiter and HTTP.

    .venv/bin/python -m bench.bench_telegram [--chats 20] [--rounds 5]

Prints a Markdown table and writes bench/results/telegram.json.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
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

from bench.results_path import results_path
from sectorbot.bot.service import SAMPLE_DIR, Service
from sectorbot.bot.settings import Settings
from sectorbot.bot.telegram.app import ALLOWED_KINDS, build_application
from tests.fakebotapi import TOKEN, FakeBotAPI, loopback_request, polling

ROOT = Path(__file__).resolve().parent.parent
RESULTS = results_path("telegram.json")
QUESTIONS_FILE = ROOT / "tests" / "eval" / "sample_questions.jsonl"
N_QUESTIONS = 40
FIRST_CHAT = 10_000


def load_questions(n: int = N_QUESTIONS) -> list[str]:
    """The first `n` questions of the evaluation set (a fixed list, in file order)."""
    lines = QUESTIONS_FILE.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["q"] for line in lines if line.strip()][:n]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


async def one_chat(
    fake: FakeBotAPI, chat: int, questions: list[str], start: int, rounds: int
) -> list[tuple[float, bool]]:
    """Ask `rounds` questions in turn; (latency in seconds, answered?) for each."""
    out = []
    for r in range(rounds):
        question = questions[(start + r * 7) % len(questions)]
        since = len(fake.sent)
        asked = time.monotonic()
        fake.send_text(chat, chat, question)
        reply = await fake.wait_for_async(
            lambda c: c.method == "sendMessage" and c.chat_id == chat, since=since, timeout=120
        )
        out.append((reply.time - asked, bool(reply.reply_markup)))
    return out


def service_only(service: Service, questions: list[str]) -> float:
    """Questions per second of `Service.ask` alone, one thread: the floor under the bot."""
    started = time.perf_counter()
    for q in questions:
        service.ask(q)
    return len(questions) / (time.perf_counter() - started)


async def run(chats: int, rounds: int) -> dict[str, Any]:
    questions = load_questions()
    with tempfile.TemporaryDirectory(prefix="bench-telegram-") as tmp:
        service = Service(Settings(data_dir=Path(tmp)))
        report = service.ingest([str(SAMPLE_DIR)])
        assert report.ok, report.failed
        service.reindex()
        service.ask(questions[0])  # warm the model before anything is timed
        direct_qps = service_only(service, questions)

        with FakeBotAPI() as fake:
            ids = [FIRST_CHAT + i for i in range(chats)]
            for chat in ids:
                fake.add_private_chat(chat, f"User {chat}")
            settings = dataclasses.replace(
                service.settings,
                telegram_bot_token=TOKEN,
                telegram_api_url=fake.base_url,
                questions_per_minute=10_000,  # measure the bot, not the per-user limit
            )
            # As in production (PTB's default pool is 256), minus TLS set-up on loopback.
            app = build_application(
                service,
                settings,
                request=loopback_request(256),
                get_updates_request=loopback_request(1),
            )
            async with polling(app, ALLOWED_KINDS):
                started = time.monotonic()
                results = await asyncio.gather(
                    *(one_chat(fake, chat, questions, i, rounds) for i, chat in enumerate(ids))
                )
                wall = time.monotonic() - started
            rejected = len(fake.rejected)
        service.close()

    samples = [s for chat in results for s in chat]
    latencies = [lat for lat, _ in samples]
    return {
        "chats": chats,
        "rounds": rounds,
        "questions": len(samples),
        "distinct_questions": len(questions),
        "answered": sum(1 for _, ok in samples if ok),
        "wall_s": round(wall, 2),
        "questions_per_s": round(len(samples) / wall, 2),
        "latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "latency_p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "latency_max_ms": round(max(latencies) * 1000, 1),
        "service_only_questions_per_s": round(direct_qps, 2),
        "rejected_calls": rejected,
        "cpus": os.cpu_count(),
        # Other work on the machine skews every number above; this says how much there was.
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def table(result: dict[str, Any]) -> str:
    rows = [
        ("chats x questions each", f"{result['chats']} x {result['rounds']}"),
        ("questions (answered)", f"{result['questions']} ({result['answered']})"),
        ("wall time", f"{result['wall_s']} s"),
        ("questions per second", result["questions_per_s"]),
        ("latency p50", f"{result['latency_p50_ms']} ms"),
        ("latency p95", f"{result['latency_p95_ms']} ms"),
        ("latency max", f"{result['latency_max_ms']} ms"),
        ("Service.ask alone, 1 thread", f"{result['service_only_questions_per_s']} q/s"),
        ("Bot API calls rejected", result["rejected_calls"]),
        ("load average after", f"{result['load_average_1m_after']} on {result['cpus']} CPUs"),
    ]
    lines = ["| measure | value |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    result = asyncio.run(run(args.chats, args.rounds))
    print(table(result))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
