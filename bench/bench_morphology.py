"""Ukrainian and Russian word forms: pymorphy3 lemmas against Snowball's Russian stemmer.

Run from the repository root:  .venv/bin/python -m bench.bench_morphology

* Meeting: pairs of inflected forms of one word (Ukrainian and Russian, as the shared reports
  and questions write them) and pairs of different words; a normaliser should join the first
  and keep the second apart.
* Cost: microseconds per distinct word over every distinct Cyrillic word of
  ../shared/data/ukru_reports.jsonl (each word once: the index caches per word).

Writes bench/results/morphology.json.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from bench.results_path import results_path
from sectorbot.index.morphology import _analyzer, lemma

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT.parent / "shared" / "data" / "ukru_reports.jsonl"
RESULTS = results_path("morphology.json")
SAME = [
    ("штурмових", "штурмові"), ("дій", "дії"), ("мирнограді", "мирноград"),
    ("мирноградом", "мирнограда"), ("евакуації", "евакуація"), ("евакуацію", "евакуація"),
    ("эвакуации", "эвакуация"), ("наступу", "наступ"), ("наступления", "наступление"),
    ("оточення", "оточенні"), ("окружения", "окружение"), ("бригади", "бригада"),
    ("бригады", "бригада"), ("дітей", "діти"), ("детей", "дети"), ("кілометрів", "кілометр"),
    ("километров", "километр"), ("обстрілу", "обстріл"), ("обстрела", "обстрел"),
    ("позиції", "позиція"), ("позиций", "позиция"), ("людей", "люди"), ("шахти", "шахта"),
    ("військових", "військовий"), ("военных", "военный"),
]  # fmt: skip
DIFFERENT = [
    ("штурм", "шахта"), ("наступ", "настрій"), ("дія", "діти"), ("бригада", "бригадир"),
    ("позиція", "позиватися"), ("город", "городок"), ("мина", "минута"), ("війна", "військо"),
]  # fmt: skip


def snowball() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("russian")


def meeting(normalise: Any) -> dict[str, str]:
    same = sum(normalise(a) == normalise(b) for a, b in SAME)
    apart = sum(normalise(a) != normalise(b) for a, b in DIFFERENT)
    return {"same_joined": f"{same}/{len(SAME)}", "different_apart": f"{apart}/{len(DIFFERENT)}"}


def cost(normalise: Any, words: list[str]) -> float:
    started = time.perf_counter()
    for word in words:
        normalise(word)
    return round((time.perf_counter() - started) / len(words) * 1e6, 1)


def main() -> None:
    texts = [json.loads(line)["text"].lower() for line in REPORTS.read_text().splitlines()]
    words = sorted({w for text in texts for w in re.findall(r"[а-яіїєґё']+", text)})
    _analyzer("uk"), _analyzer("ru")  # loading is not per word
    stemmer = snowball()
    results = {
        "distinct_words": len(words),
        "pymorphy3": {**meeting(lemma), "us_per_word": cost(lemma.__wrapped__, words)},
        "snowball_russian": {**meeting(stemmer.stemWord),
                             "us_per_word": cost(stemmer.stemWord, words)},
    }  # fmt: skip
    print(json.dumps(results, indent=2, ensure_ascii=False))
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
