"""Claim check: a forwarded post turned into a question, and the reports that bear on it
sorted into those that support it, those that contradict it, and the rest.

The question is the post's key sentence (the one naming the most places, else the first),
with the places it names (from the gazetteer, canonical names) and the months it dates
(read like a question's "in November 2025", so reports from then rank higher).

Support or contradiction is judged by stance: a report sentence that denies what the post
claims (or claims what the post denies) contradicts it; one with the post's stance supports
it; the rest are related reports. A heuristic, stated as one in what the bot says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from sectorbot.corpus.chunking import sentence_spans
from sectorbot.index.answer import Answer, AnswerSentence, stance
from sectorbot.index.gazetteer import Gazetteer
from sectorbot.index.query import MONTHS

KEY_SENTENCE_CHARS = 400
_MONTH_NAMES = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip
_ISO_DATE = re.compile(r"\b((?:19|20)\d\d)-(\d\d)-\d\d\b")
_DAY_MONTH_YEAR = re.compile(r"\b\d{1,2}\s+([^\W\d_]{3,12})\.?,?\s+((?:19|20)\d\d)\b")
_MONTH_DAY_YEAR = re.compile(r"\b([^\W\d_]{3,12})\.?\s+\d{1,2},?\s+((?:19|20)\d\d)\b")

Side = Literal["supports", "contradicts", "related"]


@dataclass
class ClaimQuestion:
    """What a post is checked by: its key sentence, places and months, as one question."""

    key_sentence: str
    places: list[str] = field(default_factory=list)
    months: list[str] = field(default_factory=list)  # "November 2025"

    @property
    def question(self) -> str:
        extra = [p for p in self.places if p.lower() not in self.key_sentence.lower()]
        return " ".join([self.key_sentence, *extra, *(f"in {m}" for m in self.months[:1])])


@dataclass
class ClaimCheck:
    """A checked post: the question asked and the answer, each quoted sentence with its side."""

    claim: ClaimQuestion
    answer: Answer
    sides: list[tuple[AnswerSentence, Side]] = field(default_factory=list)


def claim_question(text: str) -> ClaimQuestion:
    """The question a post is checked by."""
    flat = " ".join(text.split())
    spans = list(sentence_spans(flat)) or [(0, len(flat))]
    gazetteer = Gazetteer.default()
    sentences = [flat[s:e] for s, e in spans]
    named = [len(gazetteer.find(s)) for s in sentences]
    key = sentences[named.index(max(named))] if max(named) else sentences[0]
    places = list(dict.fromkeys(m.place.name for m in gazetteer.find(flat)))
    return ClaimQuestion(key[:KEY_SENTENCE_CHARS], places, _months(flat))


def _months(text: str) -> list[str]:
    """The months a text dates things in, as "November 2025", first mentioned first."""
    found: list[str] = []
    for m in _ISO_DATE.finditer(text):
        month = int(m.group(2))
        if 1 <= month <= 12:
            found.append(f"{_MONTH_NAMES[month - 1]} {m.group(1)}")
    for pattern in (_DAY_MONTH_YEAR, _MONTH_DAY_YEAR):
        for m in pattern.finditer(text):
            named = _month_number(m.group(1))
            if named:
                found.append(f"{_MONTH_NAMES[named - 1]} {m.group(2)}")
    return list(dict.fromkeys(found))


def _month_number(word: str) -> int | None:
    lowered = word.lower()
    return MONTHS.get(lowered) or next(
        (n for k, n in MONTHS.items() if len(k) >= 4 and lowered.startswith(k)), None
    )


def sides(post: str, answer: Answer) -> list[tuple[AnswerSentence, Side]]:
    """Each quoted sentence with whether it supports the post, contradicts it, or neither."""
    said = stance(post)
    judged: list[tuple[AnswerSentence, Side]] = []
    for sentence in answer.sentences:
        own = stance(sentence.text)
        side: Side = "related"
        if said and own:
            side = "supports" if own == said else "contradicts"
        judged.append((sentence, side))
    return judged
