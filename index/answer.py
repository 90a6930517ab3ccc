"""The answer composer: extractive, cited, and honest about what the corpus does not say.

Every sentence of an answer is copied from a stored passage and cites it; nothing is
generated. The result is a rendering-neutral `Answer` that the terminal and Telegram render
their own way.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from sectorbot.corpus.chunking import sentence_spans
from sectorbot.corpus.text import NAME_RE
from sectorbot.index.gazetteer import place_ids
from sectorbot.index.query import STOPWORDS, content_terms, stem
from sectorbot.index.search import Hit, SearchResult

# Calibrated on tests/eval/sample_questions.jsonl (see docs/quality.md).
MIN_CONFIDENCE = 0.36
UNKNOWN_NAME_PENALTY = 0.2
MAX_SOURCES = 4
MAX_SENTENCES = 5
MAX_SENTENCE_CHARS = 600
CLAIM_RE = re.compile(
    r"\b(captur\w*|took|taken|seiz\w*|liberat\w*|fell to|fall of|"
    r"захопи\w*|взяли|взят\w*|освобод\w*|заня\w*|під контроль|под контроль)",
    re.IGNORECASE,
)
DENIAL_RE = re.compile(
    r"\b(den(y|ied|ies|ial)\w*|reject\w*|refut\w*|false|not been captured|"
    r"remain\w* under ukrainian|in ukrainian hands|still h[eo]ld\w*|continu\w* to hold|"
    r"спростув\w*|не відповіда\w*|опроверг\w*|фейк\w*|"
    r"неправд\w*)",
    re.IGNORECASE,
)


@dataclass
class Source:
    n: int
    title: str
    publisher: str
    date: str | None
    url: str | None
    document_id: int
    chunk_id: int
    ext_id: str | None


@dataclass
class AnswerSentence:
    text: str
    citations: list[int]
    document_id: int
    char_start: int  # offsets of the quoted sentence in its document's text
    char_end: int
    stance: str = ""  # "claim" or "denial" when sources disagree


@dataclass
class Answer:
    question: str
    answered: bool
    sentences: list[AnswerSentence] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    confidence: float = 0.0
    disagreement: bool = False
    notice: str | None = None  # e.g. "the newest report I have is from 2025-12-01"
    more: list[Source] = field(default_factory=list)  # next best passages, for "More"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coverage(terms: list[str], text: str) -> float:
    """Share of the question's words (stems) that the text contains."""
    if not terms:
        return 0.0
    lowered = text.lower()
    return sum(1 for t in terms if stem(t) in lowered) / len(terms)


# Words people type as search-engine operators; alone they ask nothing.
SEARCH_OPERATORS = frozenset({"and", "or", "not", "near"})


def confidence(result: SearchResult) -> float:
    """How sure retrieval is that the corpus speaks to the question, in 0..1."""
    if not result.hits or not (set(result.query.terms) - SEARCH_OPERATORS or result.query_places):
        return 0.0  # nothing to look for: operators, punctuation or stopwords alone
    top = result.hits[:MAX_SOURCES]
    terms = [t for t in result.query.terms if not t.isdigit()]
    cover = max(_coverage(terms, h.chunk.title + " " + h.chunk.text) for h in top)
    lexical_only = all(h.dense is None for h in top)  # then coverage stands in for cosine
    dense = 0.8 * cover if lexical_only else max((h.dense or 0.0) for h in top)
    place_hit = 0.0
    if result.query_places:
        # Asking about a place that none of the best passages mention is a strong sign the
        # corpus does not cover the question (a road or landmark may be described in words).
        place_hit = 1.0 if any(result.query_places & h.places for h in top) else -2.5
    score = 0.55 * dense + 0.35 * cover + 0.1 * place_hit
    score -= min(0.4, UNKNOWN_NAME_PENALTY * len(result.unknown_names))
    return round(min(1.0, max(0.0, score)), 3)


def _sentence_score(text: str, terms: list[str], places: set[str], hit: Hit) -> float:
    lowered = text.lower()
    overlap = sum(1 for t in terms if stem(t) in lowered)
    score = overlap + (0.8 if places and places & hit.places and overlap else 0.0)
    return score / (1.0 + len(text) / 600)  # a long run-on line should not win by size


# Capitalised words too common in war reporting to show what a question is about.
GENERIC_NAMES = {"russian", "ukrainian", "russia", "ukraine", "russians", "ukrainians",
                 "european", "western", "soviet", "us", "eu", "nato"}  # fmt: skip


def subject_names(question: str) -> list[str]:
    """Names a question is about: capitalised words other than its first, lower-cased."""
    names = []
    for m in NAME_RE.finditer(question):
        word = m.group(0)
        if (m.start() == 0 and not word.isupper()) or word.lower() in GENERIC_NAMES:
            continue
        if word.lower() not in STOPWORDS:
            names.append(word.lower())
    return names


def _names_the_subject(sentence: str, names: list[str], result: SearchResult) -> bool:
    """A quoted sentence must mention what the question names (a place in any spelling)."""
    if not names:
        return True
    lowered = sentence.lower()
    if any(stem(name) in lowered for name in names):
        return True
    return bool(result.query_places and result.query_places & place_ids(sentence))


def _answer_spans(text: str) -> list[tuple[int, int]]:
    """Sentences fit to quote: scraped pages without full stops are cut at line breaks,
    headings and list markers dropped, and what is still too long or too short skipped."""
    spans = []
    for s, e in sentence_spans(text):
        pieces = [(s, e)]
        if e - s > MAX_SENTENCE_CHARS:
            pieces = [(s + m.start(), s + m.end()) for m in re.finditer(r"[^\n]+", text[s:e])]
        for ps, pe in pieces:
            while ps < pe and text[ps] in "#*-•> \t":
                ps += 1
            # Fewer than six words is a headline or a list item, not a statement to quote.
            if 25 <= pe - ps <= MAX_SENTENCE_CHARS and len(text[ps:pe].split()) >= 6:
                spans.append((ps, pe))
    return spans


def compose(result: SearchResult, min_confidence: float = MIN_CONFIDENCE) -> Answer:
    """Pick the sentences that answer the question, each with its citation."""
    conf = confidence(result)
    answer = Answer(question=result.query.text, answered=False, confidence=conf)
    if conf < min_confidence:
        answer.more = [_source(i + 1, h) for i, h in enumerate(result.hits[:MAX_SOURCES])]
        return answer
    terms = content_terms(result.query.text)
    candidates: list[tuple[float, int, AnswerSentence, Hit]] = []
    top_score = result.hits[0].score
    used_hits = [h for h in result.hits[:MAX_SOURCES] if h.score >= 0.5 * top_score]
    for rank, hit in enumerate(used_hits):
        for s, e in _answer_spans(hit.chunk.text):
            text = hit.chunk.text[s:e]
            score = _sentence_score(text, terms, result.query_places, hit) - 0.3 * rank
            if score <= 0:
                continue
            sentence = AnswerSentence(
                text=" ".join(text.split()),
                citations=[],
                document_id=hit.chunk.document_id,
                char_start=hit.chunk.char_start + s,
                char_end=hit.chunk.char_start + e,
            )
            candidates.append((score, rank, sentence, hit))
    names = subject_names(result.query.text)
    candidates = [c for c in candidates if _names_the_subject(c[2].text, names, result)]
    best = max((c[0] for c in candidates), default=0.0)
    chosen = _choose([c for c in candidates if c[0] >= 0.5 * best])
    if not chosen:
        answer.more = [_source(i + 1, h) for i, h in enumerate(result.hits[:MAX_SOURCES])]
        return answer
    answer.answered = True
    _cite(answer, chosen, result)
    return answer


def _choose(
    candidates: list[tuple[float, int, AnswerSentence, Hit]],
) -> list[tuple[AnswerSentence, Hit]]:
    """Best sentences, at most two per report; claim and denial both kept when they clash."""
    candidates.sort(key=lambda c: (-c[0], c[1]))
    chosen: list[tuple[AnswerSentence, Hit]] = []
    per_doc: dict[int, int] = {}
    for _, _, sentence, hit in candidates:
        if len(chosen) >= MAX_SENTENCES:
            break
        if per_doc.get(sentence.document_id, 0) >= 2:
            continue
        chosen.append((sentence, hit))
        per_doc[sentence.document_id] = per_doc.get(sentence.document_id, 0) + 1
    chosen = _with_both_sides(candidates, chosen)
    # Reading order: by report relevance, then by position inside the report.
    order = {id(h): i for i, (_, h) in enumerate(chosen)}
    chosen.sort(key=lambda c: (order[id(c[1])], c[0].char_start))
    return chosen


def stance(text: str) -> str:
    """'denial' or 'claim' for sentences about a capture, '' otherwise."""
    if DENIAL_RE.search(text):
        return "denial"
    return "claim" if CLAIM_RE.search(text) else ""


def _with_both_sides(
    candidates: list[tuple[float, int, AnswerSentence, Hit]],
    chosen: list[tuple[AnswerSentence, Hit]],
) -> list[tuple[AnswerSentence, Hit]]:
    """When one report claims a capture and another denies it, show the best of each."""
    best: dict[str, tuple[AnswerSentence, Hit]] = {}
    for _, _, sentence, hit in candidates:
        side = stance(sentence.text)
        if side and side not in best:
            best[side] = (sentence, hit)
    if len(best) < 2 or best["claim"][0].document_id == best["denial"][0].document_id:
        return chosen
    for sentence, _ in chosen:
        sentence.stance = stance(sentence.text)
    for side, (sentence, hit) in best.items():
        sentence.stance = side
        if all(s is not sentence for s, _ in chosen):
            keep = [c for c in chosen if c[0].stance != side or c[0].stance == ""]
            chosen = [*keep[: MAX_SENTENCES - 1], (sentence, hit)]
    return chosen


def _source(n: int, hit: Hit) -> Source:
    c = hit.chunk
    return Source(n, c.title, c.source, (c.published or "")[:10] or None, c.url,
                  c.document_id, c.id, c.ext_id)  # fmt: skip


def _cite(answer: Answer, chosen: list[tuple[AnswerSentence, Hit]], result: SearchResult) -> None:
    numbers: dict[int, int] = {}
    for sentence, hit in chosen:
        doc = hit.chunk.document_id
        if doc not in numbers:
            numbers[doc] = len(numbers) + 1
            answer.sources.append(_source(numbers[doc], hit))
        sentence.citations = [numbers[doc]]
        answer.sentences.append(sentence)
    answer.disagreement = {s.stance for s in answer.sentences} >= {"claim", "denial"}
    cited = set(numbers)
    rest = [h for h in result.hits if h.chunk.document_id not in cited]
    answer.more = [_source(len(numbers) + i + 1, h) for i, h in enumerate(rest[:MAX_SOURCES])]
    newest = max((s.date or "" for s in answer.sources), default="")
    if result.query.recent and newest:
        answer.notice = f"The newest report cited here is from {newest}."
