"""Retrieval evaluation: the same questions through hybrid, BM25-only and dense-only search.

A question file is JSONL: {"q": ..., "ids": [...]} (document ids or URLs that answer it) or
{"q": ..., "unanswerable": true}. Ranks are counted over distinct documents.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sectorbot.corpus.errors import InputError
from sectorbot.corpus.models import local_id
from sectorbot.corpus.urls import canonical_url
from sectorbot.index.answer import compose

MODES = ("hybrid", "lexical", "dense")
LABELS = {"hybrid": "hybrid", "lexical": "BM25-only", "dense": "dense-only"}


def load_questions(path: Path) -> list[dict[str, Any]]:
    questions = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{path}:{n}: not JSON ({exc})") from None
        if not item.get("q") or not (item.get("ids") or item.get("unanswerable")):
            raise InputError(f"{path}:{n}: needs 'q' and 'ids' or 'unanswerable'")
        questions.append(item)
    return questions


def _matches(hit: Any, wanted: set[str]) -> bool:
    c = hit.chunk
    # Question files name the ids their source files give, without the feed or source
    # prefix the store keeps them under.
    keys = {c.ext_id, local_id(c.ext_id or ""), c.url, canonical_url(c.url), str(c.document_id)}
    return bool(keys & wanted)


def evaluate(service: Any, questions: list[dict[str, Any]], k: int = 10) -> dict[str, Any]:
    """Metrics per mode; abstention uses each mode's own retrieval and the same composer."""
    report: dict[str, Any] = {"questions": len(questions), "modes": {}, "misses": {}}
    for mode in MODES:
        r1 = r5 = rr = 0.0
        answerable = abstain_ok = 0
        misses: list[str] = []
        for item in questions:
            result = service.search(item["q"], k=k, mode=mode)
            answer = compose(result)
            if item.get("unanswerable"):
                abstain_ok += 0 if answer.answered else 1
                if answer.answered:
                    misses.append(f"answered out-of-scope: {item['q']}")
                continue
            answerable += 1
            abstain_ok += 1 if answer.answered else 0
            wanted = {str(i) for i in item["ids"]} | {
                canonical_url(i) or i for i in item["ids"] if str(i).startswith("http")
            }
            rank = next((i for i, h in enumerate(result.hits, 1) if _matches(h, wanted)), None)
            r1 += 1 if rank == 1 else 0
            r5 += 1 if rank is not None and rank <= 5 else 0
            rr += 1 / rank if rank else 0
            if rank is None or rank > 5:
                misses.append(f"rank {rank}: {item['q']}")
            elif not answer.answered:
                misses.append(f"refused answerable: {item['q']}")
        n = max(answerable, 1)
        report["modes"][mode] = {
            "recall@1": round(r1 / n, 3),
            "recall@5": round(r5 / n, 3),
            "mrr": round(rr / n, 3),
            "abstention_accuracy": round(abstain_ok / max(len(questions), 1), 3),
        }
        report["misses"][mode] = misses
    return report


def format_table(report: dict[str, Any]) -> str:
    metrics = ["recall@1", "recall@5", "mrr", "abstention_accuracy"]
    head = f"{'mode':12}" + "".join(f"{m:>21}" for m in metrics)
    rows = [head, "-" * len(head)]
    for mode in MODES:
        values = report["modes"][mode]
        rows.append(f"{LABELS[mode]:12}" + "".join(f"{values[m]:>21.3f}" for m in metrics))
    rows.append(f"{report['questions']} questions")
    return "\n".join(rows)
