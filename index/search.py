"""Hybrid retrieval: dense (FAISS) and lexical (BM25) candidates fused by reciprocal rank.

On top of the fusion: place names matched across spellings (the gazetteer), time intent
("latest", a month the question names, since:/until: filters), source filters, and a
diversity pass so the passages of one answer come from different reports.
"""

from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from sectorbot.corpus.store import Store, StoredChunk
from sectorbot.corpus.text import CYRILLIC_RE, NAME_RE
from sectorbot.index.gazetteer import Gazetteer
from sectorbot.index.lexical import LexicalIndex, search_keys
from sectorbot.index.lexicon import detect_language, to_cyrillic, to_english
from sectorbot.index.query import STOPWORDS, Query, content_terms, parse_query
from sectorbot.index.sentences import SentenceVectors
from sectorbot.index.vectors import VectorIndex

Mode = Literal["hybrid", "dense", "lexical"]
RRF_K = 60
CANDIDATES = 60
PLACE_WEIGHT = 0.3  # lexical bonus for naming an asked-about place, relative to the best BM25
PLACE_CACHE = 200_000  # passages whose place mentions are remembered
SIBLINGS = 2  # further passages of a kept report that the composer may quote from


@dataclass
class Hit:
    chunk: StoredChunk
    score: float = 0.0
    dense: float | None = None  # cosine similarity
    lexical: float | None = None  # BM25 (higher is better)
    places: set[str] = field(default_factory=set)
    # Other passages of the same report that ranked too: the asked fact may sit in one.
    siblings: list[Hit] = field(default_factory=list)


@dataclass
class SearchResult:
    query: Query
    hits: list[Hit]
    query_places: set[str]
    unknown_names: list[str] = field(default_factory=list)  # names the corpus never mentions
    language: str = "en"  # the question's language: en, uk or ru
    english: str = ""  # the question as searched: itself, or English terms for uk/ru
    # Of the question as asked (a multilingual model) or of `english`, when the search
    # embedded it.
    query_vector: np.ndarray | None = None
    sentences: SentenceVectors | None = None  # where the composer gets sentence vectors
    newest: str | None = None  # the newest report the store holds (its publication date)

    def stretch(self, cosine: Any) -> Any:
        """A cosine of this search's model on the scale the composer's thresholds read."""
        embedder = self.sentences.embedder if self.sentences is not None else None
        stretch = getattr(embedder, "stretch", None)
        return stretch(cosine) if stretch is not None else cosine


@lru_cache(maxsize=1)
def _search_pool() -> ThreadPoolExecutor:
    """Threads for vector searches, shared by every retriever in the process."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="vector-search")


class Retriever:
    def __init__(self, store: Store, vectors: VectorIndex) -> None:
        self.store = store
        self.vectors = vectors
        self.gazetteer = Gazetteer.default()
        self.lexical_index = LexicalIndex(store, vectors.directory)
        self._places: dict[int, dict[str, int]] = {}
        self.sentences = SentenceVectors(vectors.embedder, lambda: vectors.sentences)

    def place_counts(self, chunk: StoredChunk) -> dict[str, int]:
        """Mentions per place in a passage; passages never change under one id, so the
        counts are remembered and a known passage need not even be read again."""
        counts = self._places.get(chunk.id)
        if counts is None:
            if len(self._places) >= PLACE_CACHE:
                self._places.clear()
            counts = {}
            for match in self.gazetteer.find(chunk.text):
                counts[match.place.id] = counts.get(match.place.id, 0) + 1
            self._places[chunk.id] = counts
        return counts

    def search(
        self, question: str | Query, k: int = 8, mode: Mode = "hybrid", diverse: bool = True
    ) -> SearchResult:
        query = parse_query(question, self.today()) if isinstance(question, str) else question
        language = detect_language(query.text)
        english = to_english(query.text, self.gazetteer)
        if english != query.text:  # uk/ru: search the English terms as well as the words
            query.terms = list(dict.fromkeys([*content_terms(english), *query.terms]))
        else:  # en: and the Ukrainian and Russian words for its terms and names
            query.cyrillic_terms = to_cyrillic(query.text, self.gazetteer)
        places = self.query_places(query.text)
        self.lexical_index.refresh()  # BM25 and the unknown-name check both read it
        qvec = None
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        # With filters, draw more candidates and drop those outside the filters before any
        # passage text is read: every candidate list below is already within the filters.
        pool = CANDIDATES * (4 if query.has_filters else 1)
        pending: Future[list[tuple[int, float]]] | None = None
        if mode in ("hybrid", "dense") and query.text.strip():
            embedder = self.vectors.embedder
            asked = query.text if getattr(embedder, "multilingual", False) else english
            qvec = embedder.encode_queries([asked])[0]
            # FAISS releases the GIL while it scans, so the lexical side runs beside it.
            pending = _search_pool().submit(self.vectors.search, qvec, pool)
        chunks: dict[int, StoredChunk] = {}
        if mode in ("hybrid", "lexical"):
            lexical = self.lexical(query, places, pool, chunks)
        unknown = self.unknown_names(query.text)
        if pending is not None:
            dense = self._within_filters(query, pending.result(), CANDIDATES)
        wanted = {cid for cid, _ in dense} | {cid for cid, _ in lexical}
        chunks.update(self.store.chunks_by_ids(wanted - chunks.keys()))
        hits = self._fuse(query, places, chunks, dense, lexical)
        hits.sort(key=lambda h: h.score, reverse=True)
        if diverse:
            hits = diversify(hits, limit=k)
        return SearchResult(query, hits[:k], places, unknown, language, english, qvec,
                            self.sentences, self.newest_date())  # fmt: skip

    def query_places(self, text: str) -> set[str]:
        """Places a question names; a lone capitalised name counts even without context."""
        places = self.gazetteer.place_ids(text)
        for word in NAME_RE.findall(text):
            place = self.gazetteer.resolve(word)
            if place is not None and not place.ambiguous:
                places.add(place.id)
        return places

    def unknown_names(self, text: str) -> list[str]:
        """Capitalised names and acronyms in the question that no stored passage contains.

        A question about something the corpus never mentions (HIMARS, Eurovision) should
        be refused even when its other words look like the war reporting we hold.
        """
        names = []
        for m in NAME_RE.finditer(text):
            word = re.split(r"[-'’]", m.group(0))[0]  # "French-schooled": the name is "French"
            first_word = text[: m.start()].strip() == ""
            if (first_word and not word.isupper()) or word.lower() in STOPWORDS or len(word) < 2:
                continue
            if self.gazetteer.resolve(word) is not None or not word.isascii():
                continue  # Cyrillic inflection defeats an exact lookup; judge Latin names only
            if not self.lexical_index.contains(search_keys([word])):
                names.append(word)
        return names

    def lexical(
        self, query: Query, places: set[str], limit: int,
        fetched: dict[int, StoredChunk] | None = None,
    ) -> list[tuple[int, float]]:  # fmt: skip
        """BM25 over the question's words, plus passages naming the places it asks about.

        Place spellings are not ranked by BM25: a rare spelling (Красноармейск) would
        outweigh the common one (Pokrovsk) although both name the same town. Instead a
        passage earns a fixed bonus for mentioning an asked-about place, in any spelling.
        Passages read from the store on the way are left in `fetched`. `search` refreshes
        the lexical index first.
        """
        index = self.lexical_index
        place_words = self._place_words(query.text) if places else set()
        words = [*query.terms, *query.cyrillic_terms]
        keys = search_keys(t for t in words if t not in place_words)
        ranked = self._within_filters(query, index.bm25(keys, limit) if keys else [], CANDIDATES)
        top = max((score for _, score in ranked), default=0.0) or 1.0
        scores = {cid: score / top for cid, score in ranked}
        if places:
            spellings = [sp for pid in places for sp in self.gazetteer.by_id(pid).spellings]
            # Candidates only, re-ranked by mentions below: the newest matches, unscored.
            newest = index.newest(search_keys(content_terms(" ".join(spellings))), limit * 2)
            newest_ranked = [(cid, 0.0) for cid in newest]
            candidates = [
                cid for cid, _ in self._within_filters(query, newest_ranked, 2 * CANDIDATES)
            ]
            wanted = list(dict.fromkeys([*scores, *sorted(candidates)]))  # ties: BM25, then id
            texts = self.store.chunks_by_ids(c for c in wanted if c not in self._places)
            if fetched is not None:
                fetched.update(texts)
            for chunk in texts.values():
                self.place_counts(chunk)
            for cid in wanted:
                counts = self._places.get(cid)
                if counts is None:  # deleted since it was found
                    continue
                mentions = sum(counts.get(pid, 0) for pid in places)
                if mentions:
                    weight = PLACE_WEIGHT if ranked else 1.0  # a question that is only a place
                    scores[cid] = scores.get(cid, 0.0) + weight * min(mentions, 3) / 3
        best = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        return best[:limit]

    def _within_filters(
        self, query: Query, ranked: list[tuple[int, float]], cap: int
    ) -> list[tuple[int, float]]:
        """The first `cap` ranked passages that pass the question's filters."""
        if not query.has_filters or not ranked:
            return ranked
        meta = self.store.chunk_dates_sources(cid for cid, _ in ranked)
        kept = [(cid, score) for cid, score in ranked
                if cid in meta and _passes_filters(*meta[cid], query)]  # fmt: skip
        return kept[:cap]

    def _place_words(self, text: str) -> set[str]:
        surfaces = [m.surface for m in self.gazetteer.find(text)]
        surfaces += [w for w in NAME_RE.findall(text) if self.gazetteer.resolve(w)]
        return set(content_terms(" ".join(surfaces)))

    def _fuse(
        self,
        query: Query,
        places: set[str],
        chunks: dict[int, StoredChunk],
        dense: list[tuple[int, float]],
        lexical: list[tuple[int, float]],
    ) -> list[Hit]:
        hits: dict[int, Hit] = {}
        for rank, (cid, score) in enumerate(dense):
            if cid in chunks:
                hit = hits.setdefault(cid, Hit(chunks[cid]))
                hit.dense = score
                hit.score += 1.0 / (RRF_K + rank + 1)
        for rank, (cid, score) in enumerate(lexical):
            if cid in chunks:
                hit = hits.setdefault(cid, Hit(chunks[cid]))
                hit.lexical = score
                hit.score += 1.0 / (RRF_K + rank + 1)
        latin_question = not CYRILLIC_RE.search(query.text) and bool(lexical)
        for rank, (cid, _) in enumerate(dense):
            seen = hits.get(cid)
            if seen is not None and latin_question and seen.lexical is None and is_cyrillic(seen):
                # BM25 over an English question's words cannot see a Ukrainian or Russian
                # report; its dense rank stands in for the lexical rank it could not earn.
                seen.score += 1.0 / (RRF_K + rank + 1)
        newest = self.newest_date()
        for hit in hits.values():
            hit.places = set(self.place_counts(hit.chunk))
            hit.score *= _boost(hit, query, places, newest)
        return list(hits.values())

    def newest_date(self) -> str | None:
        return self.store.newest_published()

    def today(self) -> date:
        """The day a question's "this winter" or "влітку" counts back from: the newest
        report's, which is today for a corpus kept current and keeps an archive's questions
        about its own time."""
        newest = self.newest_date()
        try:
            return min(date.today(), date.fromisoformat(newest[:10])) if newest else date.today()
        except ValueError:
            return date.today()


def is_cyrillic(hit: Hit) -> bool:
    """The passage is Ukrainian or Russian: its report says so, or its letters do."""
    lang = (hit.chunk.lang or "").lower()[:2]
    if lang:
        return lang in ("uk", "ru")
    letters = hit.chunk.text[:400]
    return len(CYRILLIC_RE.findall(letters)) > len(letters) // 3


def _boost(hit: Hit, query: Query, places: set[str], newest: str | None) -> float:
    """Multiplicative nudges: the places asked about, the time asked about."""
    factor = 1.0
    if places:
        factor *= 1.25 if places & hit.places else 0.8
    published = (hit.chunk.published or "")[:10]
    if query.window and published:
        # A named day or month is a strong constraint (the same page layout recurs daily);
        # a year is a weaker one.
        inside, outside = (1.6, 0.6) if query.window[1][:7] == query.window[0][:7] or query.day \
            else (1.3, 0.85)  # fmt: skip
        factor *= inside if query.window[0] <= published <= query.window[1] else outside
    if query.recent and newest and published:
        age = (date.fromisoformat(newest[:10]) - date.fromisoformat(published)).days
        factor *= 1.0 + 0.5 * float(np.exp(-max(age, 0) / 45.0))
    return factor


def _passes_filters(published: str | None, source: str | None, query: Query) -> bool:
    published = (published or "")[:10]
    if query.since and (not published or published < query.since):
        return False
    if query.until and (not published or published > query.until):
        return False
    if query.sources:
        return any(s.lower() in (source or "").lower() for s in query.sources)
    return True


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def diversify(
    hits: list[Hit], limit: int = 50, per_document: int = 1, max_overlap: float = 0.5
) -> list[Hit]:
    """Keep the best passage per report and drop passages that repeat one already kept."""
    kept: list[Hit] = []
    kept_shingles: list[set[tuple[str, ...]]] = []
    per_doc: dict[int, int] = {}
    first: dict[int, Hit] = {}
    for hit in hits:
        doc = hit.chunk.document_id
        if per_doc.get(doc, 0) >= per_document:
            if len(first[doc].siblings) < SIBLINGS:
                first[doc].siblings.append(hit)
            continue
        if len(kept) >= limit:
            continue  # still collecting siblings of the kept reports
        sh = _shingles(hit.chunk.text)
        if any(len(sh & other) / max(1, min(len(sh), len(other))) > max_overlap
               for other in kept_shingles):  # fmt: skip
            continue
        kept.append(hit)
        first.setdefault(doc, hit)
        kept_shingles.append(sh)
        per_doc[hit.chunk.document_id] = per_doc.get(hit.chunk.document_id, 0) + 1
    return kept
