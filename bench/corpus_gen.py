"""Deterministic generated corpora for benchmarks: sector-like reports of realistic length.

Sentences are assembled from a vocabulary of places, units, actions and objects, so that
term frequencies, document lengths and place mentions look like real reporting without
copying any real text.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta

from sectorbot.corpus.models import Document

PLACES = ["Pokrovsk", "Myrnohrad", "Selydove", "Kurakhove", "Novohrodivka", "Avdiivka",
          "Ocheretyne", "Prohres", "Udachne", "Kotlyne", "Shevchenko", "Dobropillia",
          "Kostiantynivka", "Hrodivka", "Rodynske", "Pishchane", "Zvirove", "Lysivka",
          "Покровськ", "Мирноград", "Селидове", "Красноармейск"]  # fmt: skip
ACTORS = ["Russian assault groups", "the 25th Airborne Brigade", "Ukrainian drone units",
          "the 68th Jaeger Brigade", "Russian motorised rifle units", "the 59th Brigade",
          "local authorities", "the regional military administration", "evacuation teams",
          "the 155th Brigade", "Russian infantry", "the 7th Rapid Response Corps"]  # fmt: skip
ACTIONS = ["advanced toward", "attacked positions near", "shelled", "withdrew from",
           "reported fighting in", "evacuated civilians from", "struck logistics around",
           "repelled an assault on", "mined the approaches to", "reinforced the defence of",
           "claimed the capture of", "denied the loss of"]  # fmt: skip
DETAILS = ["along the highway", "after a night of drone strikes", "despite heavy losses",
           "under glide-bomb attacks", "as water and power failed", "near the coking-coal mine",
           "close to the lithium deposit", "on the railway line", "in the industrial zone",
           "according to the General Staff", "according to ISW analysts", "by small groups",
           "with armoured vehicles", "while residents sheltered in basements"]  # fmt: skip
SOURCES = ["ISW", "Kyiv Independent", "Ukrainska Pravda", "Reuters", "DeepState", "TASS",
           "Ukrinform", "General Staff of Ukraine", "Al Jazeera", "AP"]  # fmt: skip


def sentence(rng: random.Random) -> str:
    count = rng.randint(80, 2000)
    return (f"{rng.choice(ACTORS).capitalize()} {rng.choice(ACTIONS)} {rng.choice(PLACES)} "
            f"{rng.choice(DETAILS)}, and {count} people were counted in the area.")  # fmt: skip


def documents(n: int, seed: int = 0, words: int = 300) -> Iterator[Document]:
    """n reports of about `words` words each, dated across 2024–2025."""
    rng = random.Random(seed)
    start = date(2024, 1, 1)
    for i in range(n):
        parts: list[str] = []
        while sum(len(p.split()) for p in parts) < words:
            parts.append(sentence(rng))
        paragraphs = [" ".join(parts[j : j + 4]) for j in range(0, len(parts), 4)]
        day = start + timedelta(days=rng.randint(0, 729))
        yield Document(
            text="\n\n".join(paragraphs),
            title=f"Report {i}: {rng.choice(PLACES)} {rng.choice(ACTIONS)}",
            url=f"https://bench.example/{seed}/{i}",
            source=rng.choice(SOURCES),
            published=day.isoformat(),
            lang="en",
            origin_kind="url",
            origin_ref=f"bench:{seed}:{i}",
        )
