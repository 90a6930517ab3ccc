"""Alerts benchmark: topic threshold calibration, matching cost, feed-change-to-alert latency.

    .venv/bin/python -m bench.bench_alerts [--rounds 7] [--chats 50] [--subscriptions 1000]

1. **Topic calibration** on the sample corpus: ten topics, each with hand-labelled on-topic
   English documents; "off-topic" documents are those that never mention the subject (a
   regular expression per topic), documents that mention it in passing are reported apart.
   The score is the one alerts use: cosine(topic, title + first chunk).
2. **Matching cost** of one new document against 1,000 subscriptions of 200 chats (40 %
   places, 40 % keywords, 20 % topics), median over the sample documents and repetitions,
   against a naive loop of one regular expression per keyword subscription.
3. **Latency** from a feed change to the alert message in each of 50 subscribed groups,
   through the real PTB Application (rate limiter included) and the fake Bot API, p50/p95
   over several rounds; also with a bare `telegram.Bot` (no rate limiter).

Prints Markdown tables and writes bench/results/alerts.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

from bench.results_path import results_path
from sectorbot.bot.alerts import subscriptions as subs
from sectorbot.bot.alerts.match import (
    TOPIC_THRESHOLD,
    DocText,
    Matcher,
    embed_documents,
    keyword_regex,
)
from sectorbot.bot.alerts.runtime import AlertsRuntime
from sectorbot.bot.alerts.store import AlertStore, ChatRef
from sectorbot.bot.service import SAMPLE_DIR, Service
from sectorbot.bot.settings import Settings
from sectorbot.bot.telegram.alert_transport import TelegramTransport
from sectorbot.corpus.text import fold
from sectorbot.index.gazetteer import Gazetteer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = results_path("alerts.json")

# topic -> (on-topic sample ids, pattern of a mention; a document with a mention that is not
# on-topic is "partial" and left out of the separation).
TOPICS: dict[str, tuple[set[str], str]] = {
    "drone strikes on supply roads": ({"dispatch-59th-brigade-drones"}, r"drone"),
    "evacuation of civilians": (
        {"pokrovsk-evacuation-children", "pokrovsk-trains-pavlohrad", "myrnohrad-police-3000"},
        r"evacuat|residents|civilian",
    ),
    "coal mine closure": (
        {"metinvest-coking-coal-mine", "metinvest-pokrovske-coal-plan"},
        r"coal|\bmines?\b|mining",
    ),
    "lithium deposit": ({"lithium-shevchenko-target", "lithium-shevchenko"}, r"lithium|deposit"),
    "water and gas supply cut": ({"pokrovsk-water-gas-cut"}, r"water|\bgas\b|electric|power"),
    "nuclear power plant safety": ({"distractor-znpp"}, r"nuclear"),
    "warship sunk in the Black Sea": ({"distractor-black-sea"}, r"ship|naval|black sea"),
    "missile strike on a children's hospital": ({"distractor-kyiv-hospital"}, r"hospital|missile"),
    "desertion from brigades": ({"155th-brigade-desertions"}, r"desert|awol"),
    "Ukrainian incursion into Kursk region": ({"distractor-kursk"}, r"kursk"),
}
BROAD = {"desertion from brigades", "Ukrainian incursion into Kursk region"}
KEYWORDS_EXTRA = [
    "родовище", "обстріл", "евакуація", "шахта", "дрони", "логістика", "водопостачання",
    "наступление", "эвакуация", "беспилотник", "lithium", "coking coal", "evacuation train",
    "supply road", "brigade", "drone strike", "highway", "encirclement", "power plant",
]  # fmt: skip
TOPIC_PHRASES = [
    "drone strikes on supply roads", "evacuation of civilians", "coal mine closure",
    "lithium and mineral resources", "water and gas supply cut", "attacks on railways",
    "mobilisation and conscription", "humanitarian aid deliveries", "artillery shelling of towns",
    "fighting for the highway", "desertion and morale", "prisoner exchanges",
]  # fmt: skip


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank on the sorted values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


# 1. calibration ----------------------------------------------------------------------------


def calibrate(service: Service) -> dict[str, Any]:
    """Score every topic against every English sample document; find the separating gap."""
    rows = service.store.db.query(
        "SELECT id, ext_id, title, text FROM documents WHERE lang = 'en' ORDER BY id"
    )
    docs = [DocText(r["id"], r["title"], r["text"]) for r in rows]
    doc_vecs = embed_documents(AlertStore(service.store), service.embedder, docs)
    topic_vecs = service.embedder.encode_queries(list(TOPICS))
    scores = doc_vecs @ topic_vecs.T
    per_topic, on_all, on_specific, off_specific, off_all = [], [], [], [], []
    for j, (topic, (on_ids, mention)) in enumerate(TOPICS.items()):
        on, off, partial = [], [], []
        for i, row in enumerate(rows):
            sid = row["ext_id"].removeprefix("sample-")
            value = float(scores[i, j])
            if sid in on_ids:
                on.append(value)
            elif re.search(mention, f"{row['title']} {row['text']}", re.IGNORECASE):
                partial.append(value)
            else:
                off.append((value, sid))
        top_off = max(off)
        per_topic.append(
            {
                "topic": topic,
                "broad": topic in BROAD,
                "on_min": round(min(on), 3),
                "on_n": len(on),
                "off_max": round(top_off[0], 3),
                "off_max_doc": top_off[1],
                "off_n": len(off),
                "partial_max": round(max(partial), 3) if partial else None,
            }
        )
        on_all += on
        off_all += [v for v, _ in off]
        if topic not in BROAD:
            on_specific += on
            off_specific += [v for v, _ in off]
    specific = [t for t in per_topic if not t["broad"]]
    t = TOPIC_THRESHOLD
    return {
        "documents": len(rows),
        "topics": per_topic,
        "specific_on_min": min(x["on_min"] for x in specific),
        "specific_off_max": max(x["off_max"] for x in specific),
        "threshold": t,
        "recall_specific": f"{sum(v >= t for v in on_specific)}/{len(on_specific)}",
        "recall_all_on_topic": f"{sum(v >= t for v in on_all)}/{len(on_all)}",
        "false_alerts_specific": f"{sum(v >= t for v in off_specific)}/{len(off_specific)}",
        "false_alerts_all": f"{sum(v >= t for v in off_all)}/{len(off_all)}",
        "sweep": [
            {
                "threshold": round(x, 2),
                "recall": f"{sum(v >= x for v in on_all)}/{len(on_all)}",
                "false_specific": f"{sum(v >= x for v in off_specific)}/{len(off_specific)}",
                "false_all": f"{sum(v >= x for v in off_all)}/{len(off_all)}",
            }
            for x in np.arange(t - 0.06, t + 0.061, 0.02)
        ],
    }


# 2. matching cost --------------------------------------------------------------------------


def make_subscriptions(service: Service, total: int, chats: int, rng: random.Random) -> dict:
    """`total` subscriptions over `chats` chats: 40 % places, 40 % keywords, 20 % topics."""
    places = [p.name for p in Gazetteer.default().all()]
    words = sorted(
        {
            w
            for r in service.store.db.query("SELECT text FROM documents")
            for w in subs.keyword_words(r["text"])
            if len(w) >= 5 and not w.isdigit()
        }
    )
    vocabulary = words + KEYWORDS_EXTRA
    counts = {"place": 0, "keyword": 0, "topic": 0}
    per_chat = total // chats
    tables = AlertStore(service.store)
    for c in range(chats):
        chat = ChatRef(-1_000_000 - c, "supergroup", f"chat {c}")
        made = 0
        while made < per_chat:  # a repeated item is "already subscribed": draw another
            roll = rng.random()
            if roll < 0.4:
                item = rng.choice(places)
            elif roll < 0.8:
                item = " ".join(rng.choice(vocabulary) for _ in range(rng.choice((1, 1, 1, 2))))
            else:
                item = f"topic: {rng.choice(TOPIC_PHRASES)}"
            result = subs.subscribe(tables, service.embedder, chat, 1, item)
            for added in result.added:
                counts[added.kind] += 1
                made += 1
    return counts


def matching_cost(service: Service, repeats: int) -> dict[str, Any]:
    """Median cost of matching one document against every subscription, and its parts."""
    matcher = Matcher(AlertStore(service.store), service.embedder)
    compile_times = []
    for _ in range(5):  # a forced reload each time; the median smooths out a busy machine
        matcher._signature = None
        re.purge()
        started = time.perf_counter()
        matcher.refresh()
        compile_times.append(time.perf_counter() - started)
    compile_s = statistics.median(compile_times)
    rows = service.store.db.query("SELECT id, title, text, published FROM documents ORDER BY id")
    docs = [DocText(r["id"], r["title"], r["text"], r["published"]) for r in rows]
    vectors = matcher.document_vectors(docs)
    assert vectors is not None
    embed_times = []
    for doc in docs[:10]:
        t0 = time.perf_counter()
        matcher.document_vectors([doc])
        embed_times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    matcher.document_vectors(docs)  # a poll embeds all its new documents in one call
    batch_per_doc = (time.perf_counter() - t0) / len(docs)
    match_times, naive_times, hits = [], [], []
    naive = [
        (re.compile(keyword_regex(k)), k) for k, refs in matcher.keywords.items() for _ in refs
    ]
    for _ in range(repeats):
        for doc, vec in zip(docs, vectors, strict=True):
            t0 = time.perf_counter()
            found = matcher.match(doc, vec)
            match_times.append(time.perf_counter() - t0)
            hits.append(sum(map(len, found.values())))
            folded = fold(doc.body)
            t0 = time.perf_counter()
            [k for pattern, k in naive if pattern.search(folded)]
            naive_times.append(time.perf_counter() - t0)
    return {
        "subscriptions": matcher.count,
        "distinct_keywords": len(matcher.keywords),
        "topics": len(matcher.topics),
        "documents": len(docs),
        "samples": len(match_times),
        "compile_ms": round(compile_s * 1000, 1),
        "match_median_ms": round(statistics.median(match_times) * 1000, 3),
        "match_p95_ms": round(pct(match_times, 95) * 1000, 3),
        "naive_keyword_loop_median_ms": round(statistics.median(naive_times) * 1000, 3),
        "embed_title_first_chunk_median_ms": round(statistics.median(embed_times) * 1000, 1),
        "embed_title_first_chunk_batched_ms_per_doc": round(batch_per_doc * 1000, 1),
        "matched_subscriptions_per_document_median": statistics.median(hits),
    }


# 3. latency --------------------------------------------------------------------------------


def feed_xml(entries: list[tuple[str, str, str]]) -> str:
    import email.utils
    import html

    date = email.utils.formatdate(usegmt=True)
    filler = "Officials gave further details about the roads and the people who remain. " * 10
    items = "".join(
        f"<item><title>{html.escape(t)}</title><link>{html.escape(u)}</link><guid>{html.escape(u)}"
        f"</guid><pubDate>{date}</pubDate><description>{html.escape(x + ' ' + filler)}"
        "</description></item>"
        for t, u, x in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Donbas Wire'
        f"</title><link>http://127.0.0.1/</link><description>bench</description>{items}"
        "</channel></rss>"
    )


async def latency(chats: int, rounds: int, workdir: Path, full_stack: bool) -> dict[str, Any]:
    """Seconds from a feed change to each subscribed group's alert message."""
    from telegram import Bot

    from sectorbot.bot.telegram.app import build_application
    from tests.fakebotapi import TOKEN, FakeBotAPI, loopback_request
    from tests.httpserver import LocalServer

    with ExitStack() as stack:
        api = stack.enter_context(FakeBotAPI())
        server = stack.enter_context(LocalServer())
        settings = Settings(
            data_dir=workdir, telegram_bot_token=TOKEN, telegram_api_url=api.base_url,
            poll_interval=3600,
        )  # fmt: skip
        service = Service(settings)
        stack.callback(service.close)
        alerts = AlertsRuntime.open(service, settings)
        groups = [-1_002_000_000_000 - n for n in range(chats)]
        for n, chat_id in enumerate(groups):
            api.add_group(chat_id, f"Group {n}", {1: "creator"})
            alerts.subscribe(ChatRef(chat_id, "supergroup"), 1, "Myrnohrad")
        entries = [("Calm night", server.url("/n/0"), "Nothing about the sector today.")]
        url = server.set("/feed.xml", feed_xml(entries), "application/rss+xml")
        alerts.add_feed(url, None)
        if full_stack:
            app = build_application(
                service,
                settings,
                request=loopback_request(16),
                alert_ticks={"poll_tick": 3600, "send_tick": 3600},
            )
            runtime = app.bot_data.alerts  # made by build_application
            await app.initialize()
            poll, bot = runtime.poll_once, app.bot
        else:
            poll, sender = alerts.poll_once, alerts.sender
            bot = Bot(TOKEN, base_url=api.base_url, request=loopback_request(16))
            await bot.initialize()

        await poll(True)  # the backlog, and the model and index warmed up
        per_chat, last = [], []
        for r in range(1, rounds + 1):
            since = len(api.sent)
            entries.append(
                (f"Report {r}: Мирноград", server.url(f"/n/{r}"),
                 f"Поліція повідомила, що у Мирнограді лишилося {3000 - r} людей.")
            )  # fmt: skip
            changed = time.monotonic()  # the clock the fake stamps its calls with
            server.set("/feed.xml", feed_xml(entries), "application/rss+xml")
            report = await poll(True)
            if full_stack:
                await runtime.send_once(TelegramTransport(bot))
            else:
                await sender.send_due(TelegramTransport(bot))
            assert report is not None and report.alerts == chats, report
            arrived = {}
            for call in api.sent[since:]:
                if call.method == "sendMessage" and call.chat_id in groups:
                    arrived.setdefault(call.chat_id, call.time)
            assert len(arrived) == chats, len(arrived)
            times = [t - changed for t in arrived.values()]
            per_chat += times
            last.append(max(times))
        if full_stack:
            await app.shutdown()
        else:
            await bot.shutdown()
    return {
        "stack": "PTB Application + AIORateLimiter" if full_stack else "bare telegram.Bot",
        "chats": chats,
        "rounds": rounds,
        "per_chat_p50_s": round(pct(per_chat, 50), 3),
        "per_chat_p95_s": round(pct(per_chat, 95), 3),
        "all_chats_p50_s": round(pct(last, 50), 3),
        "all_chats_p95_s": round(pct(last, 95), 3),
    }


# main ----------------------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(2025)
    out: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory() as tmp:
        service = Service(Settings(data_dir=Path(tmp) / "sample"))
        service.ingest([str(SAMPLE_DIR)])
        out["calibration"] = calibrate(service)
        out["subscriptions_made"] = make_subscriptions(
            service, args.subscriptions, max(1, args.subscriptions // 5), rng
        )
        out["matching"] = matching_cost(service, args.repeats)
        service.close()
        out["latency"] = [
            asyncio.run(latency(args.chats, args.rounds, Path(tmp) / f"lat{i}", full))
            for i, full in enumerate((True, False))
        ]
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report(out)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten to {RESULTS}")


def report(out: dict[str, Any]) -> None:
    start, end = out["load_average_at_start"], out["load_average_at_end"]
    print(f"Machine: {out['machine']}, Python {out['python']}; load average (1/5/15 min) {start}")
    print(f"at start, {end} at end.\n")
    cal = out["calibration"]
    print(f"## Topic calibration ({cal['documents']} English sample documents)\n")
    print(table(
        ["topic", "on-topic min", "off-topic max (doc)", "mentions max", "n on/off"],
        [[t["topic"] + (" (broad)" if t["broad"] else ""), t["on_min"],
          f"{t['off_max']} ({t['off_max_doc']})", t["partial_max"] if t["partial_max"] is not None
          else "-", f"{t['on_n']}/{t['off_n']}"] for t in cal["topics"]],
    ))  # fmt: skip
    print(
        f"\nSpecific topics: on-topic ≥ {cal['specific_on_min']}, off-topic ≤ "
        f"{cal['specific_off_max']}. At threshold {cal['threshold']}: recall (specific) "
        f"{cal['recall_specific']}, all on-topic pairs {cal['recall_all_on_topic']}, false "
        f"alerts {cal['false_alerts_specific']} (specific) / {cal['false_alerts_all']} (all).\n"
    )
    print(table(["threshold", "recall", "false (specific)", "false (all)"],
                [[s["threshold"], s["recall"], s["false_specific"], s["false_all"]]
                 for s in cal["sweep"]]))  # fmt: skip
    m = out["matching"]
    print(f"\n## Matching one new document against {m['subscriptions']} subscriptions\n")
    print(table(
        ["what", "value"],
        [["subscriptions (places / keywords / topics)",
          "{place} / {keyword} / {topic}".format(**out["subscriptions_made"])],
         ["distinct keywords, topics", f"{m['distinct_keywords']}, {m['topics']}"],
         ["compile (regex, topic matrix)", f"{m['compile_ms']} ms"],
         ["match, median / p95", f"{m['match_median_ms']} / {m['match_p95_ms']} ms"],
         ["naive loop, one regex per keyword subscription (median)",
          f"{m['naive_keyword_loop_median_ms']} ms"],
         ["embed title + first chunk, one document per call (median)",
          f"{m['embed_title_first_chunk_median_ms']} ms"],
         [f"embed title + first chunk, {m['documents']} documents in one call, per document",
          f"{m['embed_title_first_chunk_batched_ms_per_doc']} ms"],
         ["subscriptions matched per document (median)",
          m["matched_subscriptions_per_document_median"]],
         ["samples", f"{m['samples']} ({m['documents']} documents)"]],
    ))  # fmt: skip
    print("\n## Feed change → alert message (poll triggered at the change)\n")
    print(table(
        ["stack", "chats", "rounds", "per chat p50", "per chat p95", "all chats p50",
         "all chats p95"],
        [[x["stack"], x["chats"], x["rounds"], f"{x['per_chat_p50_s']} s",
          f"{x['per_chat_p95_s']} s", f"{x['all_chats_p50_s']} s", f"{x['all_chats_p95_s']} s"]
         for x in out["latency"]],
    ))  # fmt: skip


if __name__ == "__main__":
    main()
