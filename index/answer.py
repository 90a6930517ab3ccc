"""The answer composer: extractive, cited, and honest about what the corpus does not say.

Every sentence of an answer is copied from a stored passage and cites it; nothing is
generated. The result is a rendering-neutral `Answer` that the terminal and Telegram render
their own way.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np

from sectorbot.corpus.text import CYRILLIC_RE, NAME_RE
from sectorbot.index.answer_types import carries, numbers_in, question_type
from sectorbot.index.gazetteer import Gazetteer, place_ids
from sectorbot.index.lexical import search_keys, tokenize
from sectorbot.index.lexicon import cyrillic_forms, detect_language, transliterate
from sectorbot.index.query import MONTHS, STOPWORDS, Query, content_terms, stem
from sectorbot.index.search import Hit, SearchResult, is_cyrillic
from sectorbot.index.sentences import answer_spans, quotable

# Calibrated on tests/eval/sample_questions.jsonl (see docs/quality.md).
MIN_CONFIDENCE = 0.36
UNKNOWN_NAME_PENALTY = 0.2
MAX_SOURCES = 4
MAX_SENTENCES = 5
CANDIDATE_PASSAGES = 5  # sentences are drawn from this many of the best passages
SUPPORTING = 2  # sentences after the lead, each from another report
FILLER_GAP = 0.15  # a supporting sentence scores at most this far below the lead
DIGEST_REPORTS = 4
# Sentence score weights, tuned on the dev halves (docs/quality.md).
W_MEANING, W_WORDS, W_TYPE, W_DATE, W_PASSAGE = 0.55, 0.3, 0.2, 0.12, 0.15
# Confidence penalties: the asked kind of fact or the asked time is nowhere in the candidates.
TYPE_MISSING_PENALTY = 0.1
TIME_MISSING_PENALTY = 0.4
# A day, month or season is precise enough that reports from other times do not answer;
# a year is not (reports say "this year", "last spring"), so it only lowers confidence.
PRECISE = ("day", "month", "season")
LOOKBACK_DAYS = 92  # a report this soon after the asked time may name it without its year
# An answer whose newest quoted report is this much older than the newest report held says
# so: a quarter is longer than the sector's front or population figures stay current, and
# shorter gaps would flag nearly every answer that quotes a report from last month.
STALE_DAYS = 90
MONTH_NAMES = ["january", "february", "march", "april", "may", "june", "july", "august",
               "september", "october", "november", "december"]  # fmt: skip
# A lead sentence this far from the question in meaning (cosine) is a weak match; on the dev
# halves one right answer and two wrong ones led under 0.43; 0.41 keeps the right one (at 0.419).
WEAK_LEAD = 0.41
# e5 puts a question and a sentence that says the same in another language (English and
# Ukrainian or Russian) about this much lower, on the stretched scale, than in one language
# (dev halves of the shared Ukrainian and Russian set: a right lead across languages at
# 0.35, the same fact asked in the report's language at 0.55), and the question's words
# cannot be counted in the other alphabet; a sentence in the other alphabet gets it back.
CROSS_LANGUAGE_GAP = 0.15
WEAK_LEAD_PENALTY = 0.15
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


# The notices in English (for --json); bot/render.py recognises them to translate them.
NEWEST_NOTICE = "The newest report cited here is from {cited}."
STALE_NOTICE = "The newest report cited here is from {cited}; the newest I have is from {held}."


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
    language: str = "en"  # the question's language: en, uk or ru
    digest: bool = False  # newest reports on a place, one sentence each, newest first
    type_missing: bool = False  # no quoted sentence holds the kind of fact asked for
    # A refusal for the day, month or season the question names (in its words): no report
    # is from or about then; `sentences` hold what the reports say about other times.
    time_missing: str | None = None
    # "uk", "ru" or "en" when every quoted sentence is in that language and the question in
    # another: there is no offline translation, so the reader is told what they are reading.
    quoted_in: str | None = None
    # One line per direction a place question is about: its latest daily count and the
    # week's change (filled by the service from the figures, in the question's language).
    trend_lines: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coverage(terms: list[str], text: str) -> float:
    """Share of the question's words (stems) that the text contains."""
    if not terms:
        return 0.0
    lowered = text.lower()
    return sum(1 for t in terms if stem(t) in lowered) / len(terms)


def _place_coverage(terms: list[str], text: str, asked: set[str], names: set[str]) -> float:
    """Share of an English question's words found in a Ukrainian or Russian text: numbers
    as written, place names through the gazetteer, whatever the spelling, and other words
    and names through their Ukrainian and Russian forms (`lexicon.cyrillic_forms`)."""
    present = place_ids(text) & asked
    gazetteer = Gazetteer.default()
    words = set(tokenize(text))
    found = 0
    for term in terms:
        place = gazetteer.resolve(term)
        found += (
            bool(place is not None and place.id in present)
            or term in text
            or _found(_cyrillic_keys(term, term in names), words) > 0
        )
    return found / len(terms)


@functools.lru_cache(maxsize=4096)
def _cyrillic_keys(term: str, name: bool) -> tuple[tuple[str, bool], ...]:
    """The lexical keys of an English word's Ukrainian and Russian forms (asked per sentence
    weighed, so kept)."""
    return tuple(search_keys(cyrillic_forms(term, name)))


@functools.lru_cache(maxsize=4096)
def _name_keys(name: str) -> tuple[tuple[str, bool], ...]:
    """The lexical keys of a Latin name in Ukrainian and Russian letters."""
    return tuple(search_keys(transliterate(name)))


def _lemma_coverage(terms: list[str], text: str) -> float:
    """Share of a Ukrainian or Russian question's words that the text contains in any
    inflection: both read in dictionary form, as the lexical index reads them."""
    keys = search_keys(terms)
    return _found(keys, set(tokenize(text))) / len(keys) if keys else 0.0


def _found(keys: Sequence[tuple[str, bool]], words: set[str]) -> int:
    """How many lexical keys (a word, or a stem matched as a prefix) the words hold."""
    return sum(1 for key, prefix in keys
               if key in words or (prefix and any(w.startswith(key) for w in words)))  # fmt: skip


def _best_coverage(result: SearchResult, text: str, digits: bool = True) -> float:
    """Coverage by the question's words: for a Ukrainian or Russian question, the better of
    its English rendering (English reports) and its own words (reports in its language); for
    an English question and a Ukrainian or Russian text, its place names in any spelling."""
    if not result.english or result.english == result.query.text:
        terms = result.query.terms if not digits else content_terms(result.query.text)
        terms = [t for t in terms if digits or not t.isdigit()]
        if _mostly_cyrillic(text) and terms:
            names = set(subject_names(result.query.text))
            return _place_coverage(terms, text, result.query_places, names)
        return _coverage(terms, text)
    english = [t for t in content_terms(result.english) if digits or not t.isdigit()]
    own = [t for t in content_terms(result.query.text) if digits or not t.isdigit()]
    return max(_coverage(english, text), _lemma_coverage(own, text))


# Words people type as search-engine operators; alone they ask nothing.
SEARCH_OPERATORS = frozenset({"and", "or", "not", "near"})


def confidence(result: SearchResult) -> float:
    """How sure retrieval is that the corpus speaks to the question, in 0..1."""
    if not result.hits or not (set(result.query.terms) - SEARCH_OPERATORS or result.query_places):
        return 0.0  # nothing to look for: operators, punctuation or stopwords alone
    top = result.hits[:MAX_SOURCES]
    cover = max(_best_coverage(result, h.chunk.title + " " + h.chunk.text, False) for h in top)
    lexical_only = all(h.dense is None for h in top)  # then coverage stands in for cosine
    dense = 0.8 * cover if lexical_only else result.stretch(max((h.dense or 0.0) for h in top))
    place_hit = 0.0
    if result.query_places:
        # Asking about a place that none of the best passages mention is a strong sign the
        # corpus does not cover the question (a road or landmark may be described in words).
        place_hit = 1.0 if any(result.query_places & h.places for h in top) else -2.5
    if not lexical_only and not CYRILLIC_RE.search(result.query.text) and is_cyrillic(top[0]):
        dense += CROSS_LANGUAGE_GAP  # an English question, a Ukrainian or Russian report
    score = 0.55 * dense + 0.35 * cover + 0.1 * place_hit
    score -= min(0.4, UNKNOWN_NAME_PENALTY * len(result.unknown_names))
    return round(min(1.0, max(0.0, score)), 3)


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
    if _mostly_cyrillic(sentence):  # a name in the other alphabet: Syrskyi, Сирський
        words = set(tokenize(sentence))
        if any(_found(_name_keys(name), words) for name in names):
            return True
    return bool(result.query_places and result.query_places & place_ids(sentence))


@dataclass
class Candidate:
    """One sentence that could be quoted, with what its score is made of."""

    score: float
    meaning: float  # cosine between the question and the sentence
    typed: bool  # carries the kind of fact the question asks for
    dated: bool  # from the time the question names (report date, or undated with its year)
    rank: int  # of its passage among the retrieved ones
    sentence: AnswerSentence
    hit: Hit
    about: bool = False  # names the asked day or month itself (a later report looking back)


def _question_vector(result: SearchResult) -> np.ndarray | None:
    """The vector of the question as searched; BM25-only searches embed it here."""
    if result.query_vector is not None:
        return result.query_vector
    if result.sentences is None:
        return None
    embedder = result.sentences.embedder
    asked = result.query.text if getattr(embedder, "multilingual", False) else ""
    return embedder.encode_queries([asked or result.english or result.query.text])[0]


def _dated(text: str, hit: Hit, result: SearchResult) -> bool:
    """The report was published in the window the question names, or, undated, the
    sentence names the window's year (and, for a named day, its month: "станом на 28
    жовтня 2024" does not answer for 1 December 2024)."""
    window = result.query.window
    if window is None:
        return False
    published = (hit.chunk.published or "")[:10]
    if published:
        return window[0] <= published <= window[1]
    if not (window[0][:4] in text or window[1][:4] in text):
        return False
    day = result.query.day
    return result.query.named != "day" or day is None or _names_month(text, int(day[5:7]))


def _names_month(text: str, month: int) -> bool:
    """The text names the month in English, Ukrainian or Russian (any case of it)."""
    lowered = text.lower()
    stems = [k for k, n in MONTHS.items() if n == month and len(k) >= 3]
    return any(re.search(rf"(?<![^\W\d_]){re.escape(stem)}", lowered) for stem in stems)


def _about(text: str, query: Query, hit: Hit) -> bool:
    """The sentence names the asked day, or a month of the asked window, with its year or
    in a report published soon after (a later report looking back)."""
    assert query.window is not None
    published = (hit.chunk.published or "")[:10]
    lowered = text.lower()
    for year, month in _months(*query.window):
        name = MONTH_NAMES[month - 1]
        if query.day and query.day[:7] == f"{year}-{month:02d}":
            day = int(query.day[8:])
            named = re.search(rf"\b(?:{day}(?:st|nd|rd|th)?\s+{name}|{name}\s+{day})\b", lowered)
        else:
            named = None if query.day else re.search(rf"\b{name}\b", lowered)
        if named and (str(year) in text or _soon_after(published, query.window[1])):
            return True
    return False


def _months(start: str, end: str) -> list[tuple[int, int]]:
    year, month = int(start[:4]), int(start[5:7])
    months = []
    while (year, month) <= (int(end[:4]), int(end[5:7])):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _soon_after(published: str, end: str) -> bool:
    if not published:
        return False
    gap = (date.fromisoformat(published) - date.fromisoformat(end)).days
    return 0 <= gap <= LOOKBACK_DAYS


def _sentence_vectors(result: SearchResult, hits: list[Hit]) -> dict[int, Any]:
    if result.sentences is None:
        return {h.chunk.id: (answer_spans(h.chunk.text), None) for h in hits}
    return result.sentences.get([h.chunk for h in hits])


def _candidates(result: SearchResult, hits: list[Hit], kind: str | None) -> list[Candidate]:
    """Every quotable sentence of the given passages, scored against the question."""
    asked = numbers_in(result.english or result.query.text)
    deed = _deed(result.english or result.query.text) if kind == "person" else None
    latin_question = not CYRILLIC_RE.search(result.query.text)
    qvec = _question_vector(result)
    passages = [(rank, h) for rank, hit in enumerate(hits) for h in (hit, *hit.siblings)]
    # How the passage's report ranked carries context a single sentence lacks.
    top = max((h.score for h in hits), default=0.0) or 1.0
    standing = {rank: hit.score / top for rank, hit in enumerate(hits)}
    vectors = _sentence_vectors(result, [h for _, h in passages])
    found = []
    seen: set[tuple[int, int]] = set()  # neighbouring passages overlap
    for rank, hit in passages:
        spans, vecs = vectors[hit.chunk.id]
        sims = (result.stretch(vecs @ qvec) if vecs is not None and qvec is not None and len(spans)
                else None)  # fmt: skip
        for i, (s, e) in enumerate(spans):
            key = (hit.chunk.document_id, hit.chunk.char_start + s)
            if key in seen:
                continue
            seen.add(key)
            text = quotable(hit.chunk.text[s:e])
            meaning = float(sims[i]) if sims is not None else 0.0
            if sims is not None and latin_question == _mostly_cyrillic(text):
                meaning += CROSS_LANGUAGE_GAP
            typed = carries(kind, text, place_ids(text) if kind == "place" else None, asked)
            typed = typed and (deed is None or deed.search(text) is not None)
            dated = _dated(text, hit, result)
            score = (W_MEANING * meaning + W_WORDS * _best_coverage(result, text)
                     + (W_TYPE if kind and typed else 0.0) + (W_DATE if dated else 0.0)
                     + W_PASSAGE * standing[rank])  # fmt: skip
            start = hit.chunk.char_start
            sentence = AnswerSentence(text, [], hit.chunk.document_id, start + s, start + e)
            # Only for the refusal: naming a month is weak evidence for ranking (a foreword
            # "in late November 2025" about another town), enough to show the time is covered.
            about = result.query.named in PRECISE and _about(text, result.query, hit)
            found.append(Candidate(score, meaning, typed, dated, rank, sentence, hit, about))
    return found


# "Who captured …", "who ordered …": the question asks for whoever did that deed.
WHO_DID_RE = re.compile(r"^\s*who\s+(?:had\s+)?(\w{3,}ed)\b", re.IGNORECASE)


def _deed(question: str) -> re.Pattern[str] | None:
    """For "who <did> …", the deed as the sentence must say it: names alone do not answer
    who captured a place ("outlets had reported the capture of …" names no captor)."""
    found = WHO_DID_RE.match(question)
    return re.compile(rf"\b{re.escape(found.group(1))}\b", re.IGNORECASE) if found else None


def _mostly_cyrillic(text: str) -> bool:
    return len(CYRILLIC_RE.findall(text)) > len(text) // 3


def _refuse(answer: Answer, result: SearchResult) -> Answer:
    answer.answered = False
    answer.more = [_source(i + 1, h) for i, h in enumerate(result.hits[:MAX_SOURCES])]
    return answer


def compose(result: SearchResult, min_confidence: float = MIN_CONFIDENCE) -> Answer:
    """Lead with the sentence that best states the asked fact, then a few from other reports."""
    conf = confidence(result)
    answer = Answer(question=result.query.text, answered=False, confidence=conf,
                    language=result.language)  # fmt: skip
    if result.query.digest and result.query_places:
        return _digest(answer, result)
    if conf < min_confidence:
        return _refuse(answer, result)
    kind = question_type(result.english or result.query.text)
    candidates = _candidates(result, _candidate_passages(result), kind)
    names = subject_names(result.query.text)
    candidates = [
        c
        for c in candidates
        if _names_the_subject(c.sentence.text, names, result)
        or _names_the_subject(c.hit.chunk.text, names, result)
    ]
    if not candidates:
        return _refuse(answer, result)
    candidates.sort(key=lambda c: (-c.score, c.rank))
    answer.confidence = _checked_confidence(conf, candidates, kind, result, answer)
    if answer.confidence < min_confidence:
        return _refuse(answer, result)
    if result.query.named in PRECISE and not any(c.dated or c.about for c in candidates):
        return _near_miss(answer, candidates, result)
    answer.answered = True
    _cite(answer, _choose(candidates, bool(CLAIM_RE.search(result.query.text))), result)
    return answer


def _candidate_passages(result: SearchResult) -> list[Hit]:
    """The best passages, and any lower-ranked ones from the time the question names."""
    hits = result.hits[:CANDIDATE_PASSAGES]
    window = result.query.window
    if window and result.query.named in PRECISE:
        hits += [h for h in result.hits[CANDIDATE_PASSAGES:]
                 if window[0] <= (h.chunk.published or "")[:10] <= window[1]]  # fmt: skip
    return hits


def _near_miss(answer: Answer, candidates: list[Candidate], result: SearchResult) -> Answer:
    """Refuse for the named time, showing what the reports do say about other times."""
    answer.time_missing = result.query.when or " – ".join(result.query.window or ())
    _cite(answer, _choose(candidates, False), result)
    answer.answered = False
    return answer


def _checked_confidence(
    conf: float, candidates: list[Candidate], kind: str | None, result: SearchResult,
    answer: Answer,
) -> float:  # fmt: skip
    """Retrieval confidence, lowered when the question's own constraints go unmet: the
    kind of fact it asks for, the time it names, or a sentence that states it at all."""
    lead = candidates[0]
    if kind and not any(c.typed for c in candidates):
        answer.type_missing = True
        conf -= TYPE_MISSING_PENALTY
    precise = result.query.named in PRECISE  # then unmet is a refusal of its own (compose)
    if result.query.window and not precise and not any(c.dated for c in candidates):
        conf -= TIME_MISSING_PENALTY
    if lead.meaning and lead.meaning < WEAK_LEAD:
        conf -= WEAK_LEAD_PENALTY
    return round(max(0.0, conf), 3)


def _choose(
    candidates: list[Candidate], asks_about_capture: bool
) -> list[tuple[AnswerSentence, Hit]]:
    """The lead; the next sentence of its report when it is as good (facts are often split
    over two sentences); then up to SUPPORTING sentences from other reports that are not
    filler. When the question asks about a capture, claim and denial are both kept if
    reports clash."""
    lead = candidates[0]
    chosen = [lead]
    same_report = 0
    for c in candidates[1:]:
        if c.score < lead.score - FILLER_GAP or len(chosen) > SUPPORTING + 1:
            break
        if c.sentence.document_id == lead.sentence.document_id:
            if same_report == 0:
                chosen.append(c)
                same_report += 1
        elif all(c.sentence.document_id != k.sentence.document_id for k in chosen):
            chosen.append(c)
    pairs = [(c.sentence, c.hit) for c in chosen]
    if not asks_about_capture:
        return pairs
    ranked = [(c.score, c.rank, c.sentence, c.hit) for c in candidates]
    return _with_both_sides(ranked, pairs)


def _digest(answer: Answer, result: SearchResult) -> Answer:
    """The newest reports that mention the place, one best sentence each, newest first."""
    hits = [h for h in result.hits if result.query_places & h.places]
    hits.sort(key=lambda h: h.chunk.published or "", reverse=True)
    hits = hits[:DIGEST_REPORTS]
    chosen = []
    for hit in hits:
        found = _candidates(result, [hit], None)
        naming = [c for c in found if result.query_places & place_ids(c.sentence.text)]
        best = max(naming or found, key=lambda c: c.score, default=None)
        if best is not None:
            chosen.append((best.sentence, hit))
    if not chosen:
        return _refuse(answer, result)
    answer.answered = answer.digest = True
    answer.confidence = max(answer.confidence, MIN_CONFIDENCE)
    _cite(answer, chosen, result)
    return answer


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


def _quoted_in(answer: Answer) -> str | None:
    """The one language of all the quoted sentences, when it is not the question's."""
    languages = {detect_language(s.text) for s in answer.sentences}
    if len(languages) != 1 or answer.language in languages:
        return None  # none quoted, some in the reader's language, or a mix of languages
    return languages.pop()


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
    answer.quoted_in = _quoted_in(answer)
    cited = set(numbers)
    rest = [h for h in result.hits if h.chunk.document_id not in cited]
    answer.more = [_source(len(numbers) + i + 1, h) for i, h in enumerate(rest[:MAX_SOURCES])]
    answer.notice = _notice(answer, result)


def _notice(answer: Answer, result: SearchResult) -> str | None:
    """One line on the age of what is quoted: when the store holds a much newer report, or
    when the question asks for the latest. English here; front ends translate it."""
    newest = max((s.date or "" for s in answer.sources), default="")
    if not newest:
        return None  # undated reports: nothing to compare
    held = (result.newest or "")[:10]
    if held and _days_between(newest, held) > STALE_DAYS:
        return STALE_NOTICE.format(cited=newest, held=held)
    return NEWEST_NOTICE.format(cited=newest) if result.query.recent else None


def _days_between(earlier: str, later: str) -> int:
    try:
        return (date.fromisoformat(later) - date.fromisoformat(earlier)).days
    except ValueError:
        return 0  # a malformed date says nothing about age
