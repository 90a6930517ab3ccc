"""Answer evaluation: the same questions through hybrid, BM25-only and dense-only search.

A question file is JSONL: {"q": ..., "ids": [...], "answer": regex or [regex, ...]} (document
ids or URLs that hold the answer, and the fact the answer's text must contain) or
{"q": ..., "unanswerable": true}. Every question carries a `split`, "dev" or "test", fixed by
`split_of` from its text, so that thresholds are tuned on one half and reported on the other.
Ranks are counted over distinct documents.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sectorbot.corpus.errors import InputError
from sectorbot.corpus.models import local_id
from sectorbot.corpus.urls import canonical_url
from sectorbot.index.answer import Answer, Source, compose
from sectorbot.index.lexicon import detect_language

MODES = ("hybrid", "lexical", "dense")
LABELS = {"hybrid": "hybrid", "lexical": "BM25-only", "dense": "dense-only"}
SPLITS = ("dev", "test", "all")
METRICS = ("retrieved@5", "cited@5", "answer_accuracy", "abstention", "recall@1", "recall@5", "mrr")


def split_of(question: str) -> str:
    """'dev' or 'test', from a hash of the question text: stable across runs and machines,
    and blind to what the question asks, so neither half can be picked by hand."""
    digest = hashlib.sha1(question.strip().encode("utf-8")).hexdigest()
    return "test" if int(digest[:8], 16) % 2 else "dev"


def load_questions(path: Path, split: str = "all") -> list[dict[str, Any]]:
    questions = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{path}:{n}: not JSON ({exc})") from None
        _accept_shared_fields(item)
        if not item.get("q") or not (item.get("ids") or item.get("unanswerable")):
            raise InputError(f"{path}:{n}: needs 'q' and 'ids' or 'unanswerable'")
        for pattern in _patterns(item):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise InputError(f"{path}:{n}: bad answer pattern ({exc})") from None
        item.setdefault("split", split_of(item["q"]))
        if split in ("all", item["split"]):
            questions.append(item)
    return questions


def _accept_shared_fields(item: dict[str, Any]) -> None:
    """The shared Ukrainian and Russian set names its fields `gold` and `fact`; they are
    this format's `ids` and `answer`."""
    if "gold" in item and "ids" not in item:
        item["ids"] = item["gold"] if isinstance(item["gold"], list) else [item["gold"]]
    if "fact" in item and "answer" not in item:
        item["answer"] = item["fact"]


def _patterns(item: dict[str, Any]) -> list[str]:
    answer = item.get("answer") or []
    return [answer] if isinstance(answer, str) else list(answer)


def _wanted(item: dict[str, Any]) -> set[str]:
    ids = item.get("ids") or []
    return {str(i) for i in ids} | {canonical_url(i) or i for i in ids if str(i).startswith("http")}


def _is_gold(source: Source | Any, wanted: set[str]) -> bool:
    url = getattr(source, "url", None)
    ext = source.ext_id
    # Question files name the ids their source files give, without the feed or source
    # prefix the store keeps them under.
    keys = {ext, local_id(ext or ""), url, canonical_url(url) if url else None}
    keys.add(str(source.document_id))
    return bool(keys & wanted)


def answer_text(answer: Answer) -> str:
    """What the reader sees of an answer: its sentences, in order."""
    return " ".join(s.text for s in answer.sentences)


def judge(item: dict[str, Any], answer: Answer, hits: list[Any]) -> dict[str, float]:
    """One question's scores; for an unanswerable one only abstention counts."""
    if item.get("unanswerable"):
        return {"abstention": 0.0 if answer.answered else 1.0}
    wanted = _wanted(item)
    shown = (answer.sources + answer.more)[:5]
    rank = next((i for i, h in enumerate(hits, 1) if _is_gold(h.chunk, wanted)), None)
    text = answer_text(answer)
    correct = answer.answered and any(re.search(p, text, re.IGNORECASE) for p in _patterns(item))
    return {
        "retrieved@5": float(any(_is_gold(s, wanted) for s in shown)),
        "cited@5": float(answer.answered and any(_is_gold(s, wanted) for s in answer.sources)),
        "answer_accuracy": float(correct),
        "abstention": 1.0 if answer.answered else 0.0,
        "recall@1": float(rank == 1),
        "recall@5": float(rank is not None and rank <= 5),
        "mrr": 1.0 / rank if rank else 0.0,
    }


def _miss(item: dict[str, Any], scores: dict[str, float]) -> str | None:
    if item.get("unanswerable"):
        return None if scores["abstention"] else f"answered out-of-scope: {item['q']}"
    if not scores["abstention"]:
        return f"refused: {item['q']}"
    if not scores["answer_accuracy"]:
        cited = "cited" if scores["cited@5"] else "not cited"
        return f"wrong fact ({cited}): {item['q']}"
    return None


def _mean(rows: Iterable[dict[str, float]], metric: str) -> float:
    values = [r[metric] for r in rows if metric in r]
    return round(sum(values) / len(values), 3) if values else 0.0


def evaluate(service: Any, questions: list[dict[str, Any]], k: int = 10) -> dict[str, Any]:
    """Metrics per mode; each mode's own retrieval goes through the same composer."""
    report: dict[str, Any] = {
        "questions": len(questions), "modes": {}, "misses": {}, "kinds": {}, "splits": {},
    }  # fmt: skip
    for mode in MODES:
        rows: list[dict[str, float]] = []
        misses: list[str] = []
        for item in questions:
            result = service.search(item["q"], k=k, mode=mode)
            scores = judge(item, compose(result), result.hits)
            rows.append(scores)
            if (miss := _miss(item, scores)) is not None:
                misses.append(miss)
        report["modes"][mode] = {m: _mean(rows, m) for m in METRICS}
        for half in ("dev", "test"):
            picked = [r for q, r in zip(questions, rows, strict=True) if q["split"] == half]
            if picked and len(picked) < len(rows):
                split = report["splits"].setdefault(half, {})
                split[mode] = {m: _mean(picked, m) for m in METRICS}
        report["misses"][mode] = misses
        if mode == "hybrid":
            report["kinds"] = _by_kind(questions, rows)
            report["languages"] = _by_language(service, questions, rows)
    return report


def _by_language(
    service: Any, questions: list[dict[str, Any]], rows: list[dict[str, float]]
) -> dict[str, Any]:
    """Hybrid scores by the question's language and by the language of the report that
    holds the answer (unanswerable questions have none)."""
    groups: dict[str, list[tuple[dict[str, Any], dict[str, float]]]] = {}
    for item, scores in zip(questions, rows, strict=True):
        asked = item.get("lang") or detect_language(item["q"])
        groups.setdefault(f"question {asked}", []).append((item, scores))
        if not item.get("unanswerable"):
            groups.setdefault(f"report {_report_language(service, item)}", []).append(
                (item, scores))  # fmt: skip
    return {name: _group_scores(pairs) for name, pairs in sorted(groups.items())}


def _group_scores(pairs: list[tuple[dict[str, Any], dict[str, float]]]) -> dict[str, float]:
    answerable = [s for q, s in pairs if not q.get("unanswerable")]
    refused = [s for q, s in pairs if q.get("unanswerable")]
    out: dict[str, float] = {"n": len(answerable), "n_unanswerable": len(refused)}
    if answerable:
        out.update({m: _mean(answerable, m) for m in ("cited@5", "answer_accuracy")})
    if refused:
        out["abstention"] = _mean(refused, "abstention")
    return out


def _report_language(service: Any, item: dict[str, Any]) -> str:
    """The stored language of the first gold report found, else read from its title."""
    for gold in item.get("ids") or []:
        found = service.language_of(str(gold))
        if found is not None:
            lang, title = found
            return (lang or detect_language(title)).lower()[:2]
    return "unknown"


def _by_kind(questions: list[dict[str, Any]], rows: list[dict[str, float]]) -> dict[str, Any]:
    """Hybrid scores per question kind: answerable kinds by fact, the others by refusal."""
    kinds: dict[str, list[dict[str, float]]] = {}
    for item, scores in zip(questions, rows, strict=True):
        kinds.setdefault(item.get("kind", "other"), []).append(scores)
    return {
        kind: {"n": len(r), **{m: _mean(r, m) for m in ("cited@5", "answer_accuracy")}}
        if "cited@5" in r[0]
        else {"n": len(r), "abstention": _mean(r, "abstention")}
        for kind, r in sorted(kinds.items())
    }


def format_table(report: dict[str, Any]) -> str:
    head = f"{'mode':12}" + "".join(f"{m:>16}" for m in METRICS)
    rows = [head, "-" * len(head)]
    for mode in MODES:
        values = report["modes"][mode]
        rows.append(f"{LABELS[mode]:12}" + "".join(f"{values[m]:>16.3f}" for m in METRICS))
    rows.append(f"{report['questions']} questions")
    for kind, values in report.get("kinds", {}).items():
        rest = ", ".join(f"{m} {v:.3f}" for m, v in values.items() if m != "n")
        rows.append(f"  hybrid, {kind} ({values['n']}): {rest}")
    for group, values in report.get("languages", {}).items():
        rest = ", ".join(f"{m} {v:.3f}" for m, v in values.items() if not m.startswith("n"))
        counted = f"{values['n']:.0f} + {values['n_unanswerable']:.0f} unanswerable"
        rows.append(f"  hybrid, {group} ({counted}): {rest}")
    return "\n".join(rows)
