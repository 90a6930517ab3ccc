"""The shipped question sets: well-formed, split by hash, and as varied as the issue asks."""

import re

import pytest

from sectorbot.index.evaluate import load_questions, split_of
from tests.conftest import ROOT

SETS = ROOT / "tests" / "eval"


@pytest.mark.parametrize("name", ["sample_questions.jsonl", "shared_questions.jsonl"])
def test_every_question_has_a_hashed_split_and_a_fact(name: str) -> None:
    questions = load_questions(SETS / name)
    assert len({q["q"] for q in questions}) == len(questions)
    for item in questions:
        assert item["split"] == split_of(item["q"]), item["q"]
        if not item.get("unanswerable"):
            patterns = item["answer"] if isinstance(item["answer"], list) else [item["answer"]]
            assert patterns and all(re.compile(p) for p in patterns), item["q"]
    halves = {s: [q for q in questions if q["split"] == s] for s in ("dev", "test")}
    assert all(len(half) >= len(questions) // 3 for half in halves.values())
    assert load_questions(SETS / name, "test") == halves["test"]


def test_the_shared_set_covers_what_readers_ask() -> None:
    questions = load_questions(SETS / "shared_questions.jsonl")
    tags = [t for q in questions for t in q.get("tags", [])]
    kinds = [q["kind"] for q in questions]
    assert len(questions) >= 80
    assert tags.count("numeric") >= 10 and tags.count("date") >= 10
    assert tags.count("paraphrase") >= 20
    assert kinds.count("uk") + kinds.count("ru") >= 10
    assert sum(1 for q in questions if q.get("unanswerable")) >= 15
    assert kinds.count("near_miss") >= 8
    assert not any("ISW" in q["q"] or "according to" in q["q"].lower() for q in questions)


def test_split_of_is_stable() -> None:
    assert split_of("How many people lived in Pokrovsk before the war?") == split_of(
        "  How many people lived in Pokrovsk before the war?  "
    )
    assert {split_of(f"question {n}") for n in range(20)} == {"dev", "test"}
