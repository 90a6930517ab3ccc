"""Hybrid retrieval: dense (FAISS) and lexical (FTS5/BM25) candidates fused by reciprocal rank.

On top of the fusion: place names matched across spellings (the gazetteer), time intent
("latest", a month the question names, since:/until: filters), source filters, and a
diversity pass so the passages of one answer come from different reports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Literal

import numpy as np

from corpus.store import Store, StoredChunk
from index.gazetteer import Gazetteer
from index.query import STOPWORDS, Query, content_terms, parse_query, stem
from index.vectors import VectorIndex

Mode = Literal["hybrid", "dense", "lexical"]
CAPITALISED = re.compile(r"\b[A-ZА-ЯІЇЄҐЁ][\w'’-]*\w", re.UNICODE)
RRF_K = 60
CANDIDATES = 60
COMMON_SHARE = 0.2  # a word in more than this share of passages is left out of BM25
PLACE_WEIGHT = 0.3  # lexical bonus for naming an asked-about place, relative to the best BM25


@dataclass
class Hit:
    chunk: StoredChunk
    score: float = 0.0
    dense: float | None = None  # cosine similarity
    lexical: float | None = None  # BM25 (higher is better)
    dense_rank: int | None = None
    lexical_rank: int | None = None
    places: set[str] = field(default_factory=set)


@dataclass
class SearchResult:
    query: Query
    hits: list[Hit]
    query_vector: np.ndarray | None
    query_places: set[str]
    unknown_names: list[str] = field(default_factory=list)  # names the corpus never mentions


@lru_cache(maxsize=200_000)
def _chunk_place_counts(chunk_id: int, text: str) -> dict[str, int]:
    # Chunks never change under one id, so their places can be remembered.
    counts: dict[str, int] = {}
    for match in Gazetteer.default().find(text):
        counts[match.place.id] = counts.get(match.place.id, 0) + 1
    return counts


def fts_expression(terms: Sequence[str]) -> str:
    """An FTS5 OR-expression of quoted stems; prefix matching absorbs inflection."""
    parts = []
    for term in dict.fromkeys(terms):
        cleaned = re.sub(r"[\"'’*^:()]", "", term)
        if not cleaned:
            continue
        stemmed = stem(cleaned)
        parts.append(f'"{stemmed}"*' if stemmed != cleaned or len(cleaned) > 6 else f'"{cleaned}"')
    return " OR ".join(dict.fromkeys(parts))


class Retriever:
    def __init__(self, store: Store, vectors: VectorIndex) -> None:
        self.store = store
        self.vectors = vectors
        self.gazetteer = Gazetteer.default()
        self._vocab_ready = False

    def search(
        self, question: str | Query, k: int = 8, mode: Mode = "hybrid", diverse: bool = True
    ) -> SearchResult:
        query = parse_query(question) if isinstance(question, str) else question
        places = self.query_places(query.text)
        qvec = None
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        pool = CANDIDATES * (4 if query.has_filters else 1)
        # Dense and lexical run in turn: overlapping them in threads measured slower on two
        # cores (GIL contention; see docs/benchmarks.md).
        if mode in ("hybrid", "dense") and query.text.strip():
            qvec = self.vectors.embedder.encode_queries([query.text])[0]
            dense = self.vectors.search(qvec, pool)
        if mode in ("hybrid", "lexical"):
            lexical = self.lexical(query, places, pool)
        chunks = self.store.chunks_by_ids({cid for cid, _ in dense} | {cid for cid, _ in lexical})
        hits = self._fuse(query, places, chunks, dense, lexical)
        hits = [h for h in hits if _passes_filters(h.chunk, query)]
        hits.sort(key=lambda h: h.score, reverse=True)
        if diverse:
            hits = diversify(hits, limit=k)
        return SearchResult(query, hits[:k], qvec, places, self.unknown_names(query.text))

    def query_places(self, text: str) -> set[str]:
        """Places a question names; a lone capitalised name counts even without context."""
        places = self.gazetteer.place_ids(text)
        for word in CAPITALISED.findall(text):
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
        for m in CAPITALISED.finditer(text):
            word = re.split(r"[-'’]", m.group(0))[0]  # "French-schooled": the name is "French"
            first_word = text[: m.start()].strip() == ""
            if (first_word and not word.isupper()) or word.lower() in STOPWORDS or len(word) < 2:
                continue
            if self.gazetteer.resolve(word) is not None or not word.isascii():
                continue  # Cyrillic inflection defeats an exact lookup; judge Latin names only
            if not self.store.query(
                "SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT 1",
                [fts_expression([word.lower()])],
            ):
                names.append(word)
        return names

    def lexical(self, query: Query, places: set[str], limit: int) -> list[tuple[int, float]]:
        """BM25 over the question's words, plus passages naming the places it asks about.

        Place spellings are not ranked by BM25: a rare spelling (Красноармейск) would
        outweigh the common one (Pokrovsk) although both name the same town. Instead a
        passage earns a fixed bonus for mentioning an asked-about place, in any spelling.
        """
        place_words = self._place_words(query.text) if places else set()
        terms = self._selective([t for t in query.terms if t not in place_words])
        scores: dict[int, float] = {}
        ranked = self._bm25(fts_expression(terms), limit) if terms else []
        top = max((score for _, score in ranked), default=0.0) or 1.0
        for cid, score in ranked:
            scores[cid] = score / top
        if places:
            spellings = [sp for pid in places for sp in self.gazetteer.by_id(pid).spellings]
            expression = fts_expression(content_terms(" ".join(spellings)))
            # Candidates only, re-ranked by mentions below: no BM25 needed, and FTS5 can
            # stop after the newest `limit` matches instead of scoring every one.
            candidates = self._match_ids(expression, limit * 2)
            texts = self.store.chunks_by_ids(set(candidates) | set(scores))
            for cid, chunk in texts.items():
                counts = _chunk_place_counts(cid, chunk.text)
                mentions = sum(counts.get(pid, 0) for pid in places)
                if mentions:
                    weight = PLACE_WEIGHT if ranked else 1.0  # a question that is only a place
                    scores[cid] = scores.get(cid, 0.0) + weight * min(mentions, 3) / 3
        best = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        return best[:limit]

    def _match_ids(self, expression: str, limit: int) -> list[int]:
        if not expression:
            return []
        rows = self.store.query(
            "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rowid DESC LIMIT ?",
            [expression, limit],
        )
        return [r["rowid"] for r in rows]

    def _selective(self, terms: list[str]) -> list[str]:
        """Drop words found in most passages: they barely move BM25 but cost the most.

        Document frequencies come from FTS5's vocabulary table; the two rarest words are
        always kept, so a question made only of common words still searches.
        """
        total = self.vectors.manifest.count if self.vectors.manifest else 0
        if len(terms) <= 2 or total < 2000:
            return terms
        self._ensure_vocab()
        df = {t: self._doc_frequency(stem(t)) for t in terms}
        rare = sorted(terms, key=lambda t: df[t])
        return [t for t in terms if df[t] <= COMMON_SHARE * total or t in rare[:2]]

    def _ensure_vocab(self) -> None:
        if not self._vocab_ready:
            self.store.db.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_vocab "
                "USING fts5vocab(main, 'chunks_fts', 'row')"
            )
            self._vocab_ready = True

    def _doc_frequency(self, prefix: str) -> int:
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        value = self.store.scalar(
            "SELECT sum(doc) FROM temp.chunks_vocab WHERE term >= ? AND term < ?",
            [prefix, upper],
        )
        return int(value or 0)

    def _bm25(self, expression: str, limit: int) -> list[tuple[int, float]]:
        if not expression:
            return []
        rows = self.store.query(
            "SELECT rowid, bm25(chunks_fts) AS rank FROM chunks_fts WHERE chunks_fts MATCH ? "
            "ORDER BY rank LIMIT ?",
            [expression, limit],
        )
        return [(r["rowid"], -float(r["rank"])) for r in rows]

    def _place_words(self, text: str) -> set[str]:
        surfaces = [m.surface for m in self.gazetteer.find(text)]
        surfaces += [w for w in CAPITALISED.findall(text) if self.gazetteer.resolve(w)]
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
                hit.dense, hit.dense_rank = score, rank + 1
                hit.score += 1.0 / (RRF_K + rank + 1)
        for rank, (cid, score) in enumerate(lexical):
            if cid in chunks:
                hit = hits.setdefault(cid, Hit(chunks[cid]))
                hit.lexical, hit.lexical_rank = score, rank + 1
                hit.score += 1.0 / (RRF_K + rank + 1)
        newest = self.newest_date()
        for hit in hits.values():
            hit.places = set(_chunk_place_counts(hit.chunk.id, hit.chunk.text))
            hit.score *= _boost(hit, query, places, newest)
        return list(hits.values())

    def newest_date(self) -> str | None:
        return self.store.scalar("SELECT max(published) FROM documents")


def _boost(hit: Hit, query: Query, places: set[str], newest: str | None) -> float:
    """Multiplicative nudges: the places asked about, the time asked about."""
    factor = 1.0
    if places:
        factor *= 1.25 if places & hit.places else 0.8
    published = (hit.chunk.published or "")[:10]
    if query.window and published:
        factor *= 1.3 if query.window[0] <= published <= query.window[1] else 0.85
    if query.recent and newest and published:
        age = (date.fromisoformat(newest[:10]) - date.fromisoformat(published)).days
        factor *= 1.0 + 0.5 * float(np.exp(-max(age, 0) / 45.0))
    return factor


def _passes_filters(chunk: StoredChunk, query: Query) -> bool:
    published = (chunk.published or "")[:10]
    if query.since and (not published or published < query.since):
        return False
    if query.until and (not published or published > query.until):
        return False
    if query.sources:
        source = (chunk.source or "").lower()
        return any(s.lower() in source for s in query.sources)
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
    for hit in hits:
        if len(kept) >= limit:
            break
        if per_doc.get(hit.chunk.document_id, 0) >= per_document:
            continue
        sh = _shingles(hit.chunk.text)
        if any(len(sh & other) / max(1, min(len(sh), len(other))) > max_overlap
               for other in kept_shingles):  # fmt: skip
            continue
        kept.append(hit)
        kept_shingles.append(sh)
        per_doc[hit.chunk.document_id] = per_doc.get(hit.chunk.document_id, 0) + 1
    return kept
