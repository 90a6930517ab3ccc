"""BM25 over the stored passages, held in memory and kept in step with the store.

SQLite's FTS5 computes bm25() for every row an OR-query matches before it can sort them;
at 100k passages that was most of an answer's time (docs/benchmarks.md). This index keeps
the postings in numpy arrays instead, so scoring a question is a few vector operations.

Layout: a large *base* segment plus a small *delta* segment for passages stored since the
base was built, and a mask for passages deleted since. Passage ids are AUTOINCREMENT and an
edited document gets new passages, so a passage never changes under its id: keeping in
step means reading passages above the highest id seen and masking ids that disappeared.
When the delta grows past a share of the base the two are merged and the result saved as
``lexical.npz`` beside the vector index, so a restart does not re-read the whole corpus.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import unicodedata
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from zipfile import BadZipFile

import numpy as np

from sectorbot.corpus.store import Store
from sectorbot.corpus.text import CYRILLIC_RE, WORD_RE, fold, fold_diacritics
from sectorbot.index.morphology import CACHE_WORDS, lemma, text_language
from sectorbot.index.query import stem

log = logging.getLogger(__name__)

K1, B = 1.2, 0.75  # the BM25 constants FTS5 uses
FORMAT = 2  # 2: Ukrainian and Russian words in dictionary form (index/morphology.py)
BATCH = 2000  # passages read from the store per query while catching up
MERGE_SHARE = 0.1  # merge the delta into the base once it holds this share of passages
MERGE_MIN = 1000
SPOT_CHECKS = 32  # passages re-tokenized to check that a saved index belongs to this store
Key = tuple[str, bool]  # (word or stem, match as a prefix)


def tokenize(text: str) -> list[str]:
    """The index's words: folded, and Ukrainian and Russian ones in dictionary form."""
    if not CYRILLIC_RE.search(text):
        return WORD_RE.findall(fold_diacritics(text))
    folded = unicodedata.normalize("NFC", fold(text))  # й as one letter, as dictionaries have it
    language = text_language(folded)
    return [_index_form(word, language) for word in WORD_RE.findall(folded)]


@lru_cache(maxsize=CACHE_WORDS)
def _index_form(word: str, language: str) -> str:
    return fold_diacritics(lemma(word, language))


def search_keys(terms: Iterable[str]) -> list[Key]:
    """Question words as lookups: a stem matched as a prefix (absorbs inflection) or a word."""
    keys: dict[Key, None] = {}
    for term in terms:
        for word in tokenize(term):
            if len(word) < 2 and not word.isdigit():
                continue
            stemmed = stem(word)
            prefix = stemmed != word or len(word) > 6
            keys.setdefault((stemmed, prefix), None)
    return list(keys)


class LexicalIndexProblem(Exception):
    """Why a saved lexical index cannot be used (one line)."""


@dataclass
class Segment:
    """Postings grouped by term; terms sorted so a prefix is one contiguous slice."""

    terms: list[str]
    term_ids: np.ndarray  # vocabulary id of each term, aligned with `terms`
    offsets: np.ndarray  # postings of terms[i] are docs[offsets[i]:offsets[i + 1]]
    docs: np.ndarray  # positions into LexicalIndex.ids
    tfs: np.ndarray  # occurrences of the term in the passage

    @classmethod
    def empty(cls) -> Segment:
        return cls([], np.zeros(0, np.int64), np.zeros(1, np.int64),
                   np.zeros(0, np.int32), np.zeros(0, np.uint16))  # fmt: skip

    @classmethod
    def build(cls, docs: np.ndarray, term_ids: np.ndarray, tfs: np.ndarray,
              words: list[str]) -> Segment:  # fmt: skip
        if not len(docs):
            return cls.empty()
        present = np.unique(term_ids)
        names = [words[i] for i in present]
        order = np.asarray(sorted(range(len(names)), key=names.__getitem__), dtype=np.int64)
        rank = np.empty(int(present[-1]) + 1, dtype=np.int64)
        rank[present[order]] = np.arange(len(order))
        ranks = rank[term_ids]
        perm = np.lexsort((docs, ranks))
        counts = np.bincount(ranks, minlength=len(order))
        offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        return cls([names[i] for i in order], present[order], offsets,
                   docs[perm].astype(np.int32), tfs[perm].astype(np.uint16))  # fmt: skip

    def span(self, key: Key) -> tuple[int, int]:
        """The postings slice for a word, or for every term starting with a stem."""
        text, prefix = key
        lo = bisect_left(self.terms, text)
        if prefix:
            hi = bisect_left(self.terms, text + "\U0010ffff", lo)
        else:
            hi = lo + 1 if lo < len(self.terms) and self.terms[lo] == text else lo
        return int(self.offsets[lo]), int(self.offsets[hi])

    def unique(self, key: Key) -> bool:
        """Whether the key's slice lists each passage once (it spans a single term)."""
        text, prefix = key
        if not prefix:
            return True
        lo = bisect_left(self.terms, text)
        return lo + 1 >= len(self.terms) or not self.terms[lo + 1].startswith(text)

    def postings_term_ids(self) -> np.ndarray:
        return np.repeat(self.term_ids, np.diff(self.offsets))


class LexicalIndex:
    """BM25 search over every stored passage; call `refresh` before searching."""

    def __init__(
        self, store: Store, directory: Path | None = None, merge_min: int = MERGE_MIN
    ) -> None:
        self.store = store
        self.merge_min = merge_min
        self.path = Path(directory) / "lexical.npz" if directory else None
        self.lock = threading.RLock()
        self.words: list[str] = []
        self.vocab: dict[str, int] = {}
        self._reset()
        self.loaded = False
        self._marker: tuple[int, int] | None = None

    def _reset(self) -> None:
        self.ids = np.zeros(0, np.int64)  # chunk id at each position, ascending
        self.lengths = np.zeros(0, np.int32)  # tokens per passage
        self.alive = np.zeros(0, bool)
        self.base = Segment.empty()
        self.delta = Segment.empty()
        self.base_size = 0  # positions [0, base_size) are in the base segment
        self.max_id = 0
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._stats()

    def _stats(self) -> None:
        self.live = int(self.alive.sum())
        self.dead = len(self.alive) - self.live
        avgdl = float(self.lengths[self.alive].mean()) if self.live else 1.0
        self.norm = (K1 * (1 - B + B * self.lengths / max(avgdl, 1e-9))).astype(np.float32)

    # keeping in step with the store ----------------------------------------------------

    def refresh(self) -> str | None:
        """Catch up with the store; a one-line notice when a saved index had to be rebuilt."""
        with self.lock:
            marker = self.store.change_marker()
            if self.loaded and marker == self._marker:
                return None
            notice = None if self.loaded else self._load()
            self._catch_up()
            if notice:
                self.merge()  # writes a sound file over the damaged one
            self._marker = marker
            return notice

    def _catch_up(self) -> None:
        started, before = time.perf_counter(), len(self.ids)
        while rows := self.store.chunk_texts_after(self.max_id, BATCH):
            self._add(rows)
        if len(self.ids) > before:
            self._rebuild_delta()
        stored = self.store.chunk_count()
        if stored != self.live:
            live_ids = np.asarray(self.store.chunk_ids(), dtype=np.int64)
            self.alive &= np.isin(self.ids, live_ids)
            self._stats()
        if self._merge_due():
            self.merge()
        if len(self.ids) - before > MERGE_MIN:
            log.info("lexical index: read %d passages in %.1f s",
                     len(self.ids) - before, time.perf_counter() - started)  # fmt: skip

    def _add(self, rows: list[tuple[int, str]]) -> None:
        first = len(self.ids)
        docs: list[int] = []
        term_ids: list[int] = []
        tfs: list[int] = []
        lengths = []
        for offset, (_, text) in enumerate(rows):
            words = tokenize(text)
            lengths.append(len(words))
            for word, count in Counter(words).items():
                term = self.vocab.get(word)
                if term is None:
                    term = self.vocab[word] = len(self.words)
                    self.words.append(word)
                docs.append(first + offset)
                term_ids.append(term)
                tfs.append(min(count, 65535))
        self.ids = np.concatenate((self.ids, np.asarray([r[0] for r in rows], np.int64)))
        self.lengths = np.concatenate((self.lengths, np.asarray(lengths, np.int32)))
        self.alive = np.concatenate((self.alive, np.ones(len(rows), bool)))
        self.max_id = int(self.ids[-1])
        self._pending.append((np.asarray(docs, np.int32), np.asarray(term_ids, np.int64),
                              np.asarray(tfs, np.uint16)))  # fmt: skip

    def _rebuild_delta(self) -> None:
        parts = [(self.delta.docs, self.delta.postings_term_ids(), self.delta.tfs), *self._pending]
        docs, term_ids, tfs = (np.concatenate(p) for p in zip(*parts, strict=True))
        self.delta = Segment.build(docs, term_ids, tfs, self.words)
        self._pending = []
        self._stats()

    def _merge_due(self) -> bool:
        waiting = len(self.ids) - self.base_size
        if waiting >= max(self.merge_min, MERGE_SHARE * self.base_size):
            return True
        return self.dead >= max(self.merge_min, MERGE_SHARE * len(self.ids))

    def settle(self) -> None:
        """Catch up, then merge and save if anything changed since the last save."""
        with self.lock:
            self.refresh()
            if len(self.ids) > self.base_size or self.dead:
                self.merge()

    def merge(self) -> None:
        """Fold the delta into the base, drop deleted passages, and save the result."""
        with self.lock:
            if self._pending:
                self._rebuild_delta()
            segments = (self.base, self.delta)
            docs = np.concatenate([s.docs for s in segments])
            term_ids = np.concatenate([s.postings_term_ids() for s in segments])
            tfs = np.concatenate([s.tfs for s in segments])
            keep = self.alive[docs]
            renumber = np.cumsum(self.alive) - 1
            self.base = Segment.build(renumber[docs[keep]], term_ids[keep], tfs[keep], self.words)
            self.delta = Segment.empty()
            self.ids, self.lengths = self.ids[self.alive], self.lengths[self.alive]
            self.alive = np.ones(len(self.ids), bool)
            self.base_size = len(self.ids)
            self._stats()
            self._save()

    # saving and loading ----------------------------------------------------------------

    def _save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_name(f".lexical.{os.getpid()}.tmp.npz")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(
                tmp, format=np.asarray([FORMAT, self.max_id], np.int64), ids=self.ids,
                lengths=self.lengths, words=np.frombuffer("\n".join(self.words).encode(), np.uint8),
                term_ids=self.base.term_ids, offsets=self.base.offsets, docs=self.base.docs,
                tfs=self.base.tfs,
            )  # fmt: skip
            os.replace(tmp, self.path)
        except OSError as exc:  # the index in memory still serves; the next merge tries again
            with suppress(OSError):
                tmp.unlink(missing_ok=True)
            log.warning("lexical index: could not save %s (%s)", self.path, exc)

    def _load(self) -> str | None:
        self.loaded = True
        if self.path is None:
            return None
        for stale in self.path.parent.glob(".lexical.*.tmp.npz"):  # left by a killed save
            if time.time() - stale.stat().st_mtime > 600:  # not another process's save
                stale.unlink(missing_ok=True)
        if not self.path.exists():
            return None
        try:
            self.read_saved()
        except LexicalIndexProblem as exc:
            self.words, self.vocab = [], {}
            self._reset()
            notice = f"lexical index: {exc}; rebuilding it from the store"
            log.warning("%s", notice)
            return notice
        return None

    def read_saved(self) -> None:
        """Load the saved index, or raise LexicalIndexProblem saying what is wrong with it."""
        if self.path is None or not self.path.exists():
            raise LexicalIndexProblem("not saved yet")
        path = self.path
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            fmt, max_id = (int(v) for v in arrays["format"])
            words = bytes(arrays["words"]).decode().split("\n") if arrays["words"].size else []
            ids, lengths = arrays["ids"], arrays["lengths"]
            term_ids, offsets, docs = arrays["term_ids"], arrays["offsets"], arrays["docs"]
        except (OSError, ValueError, KeyError, TypeError, IndexError, EOFError, BadZipFile) as exc:
            raise LexicalIndexProblem(f"{path.name} is unreadable ({type(exc).__name__})") from None
        if fmt != FORMAT:
            raise LexicalIndexProblem(f"{path.name} has format {fmt}, not {FORMAT}")
        consistent = (
            len(offsets) == len(term_ids) + 1 and offsets[0] == 0 and offsets[-1] == len(docs)
            and len(arrays["tfs"]) == len(docs) and len(lengths) == len(ids)
            and bool(np.all(np.diff(offsets) >= 0)) and bool(np.all(np.diff(ids) > 0))
            and (not len(docs) or (docs.min() >= 0 and docs.max() < len(ids)))
            and (not len(term_ids) or term_ids.max() < len(words))
            and (not len(ids) or ids[-1] <= max_id)
        )  # fmt: skip
        if not consistent:
            raise LexicalIndexProblem(f"{path.name} is inconsistent")
        if max_id > self.store.last_chunk_id_assigned():
            raise LexicalIndexProblem(f"{path.name} is ahead of the store")
        self.words = words
        self.vocab = {w: i for i, w in enumerate(words)}
        terms = [words[i] for i in term_ids]
        self.base = Segment(terms, term_ids.astype(np.int64), offsets.astype(np.int64),
                            docs.astype(np.int32), arrays["tfs"].astype(np.uint16))  # fmt: skip
        self.ids, self.lengths = ids.astype(np.int64), lengths.astype(np.int32)
        self.alive = np.ones(len(ids), bool)
        self.base_size, self.max_id = len(ids), max_id
        self._stats()
        self._spot_check()

    def _spot_check(self) -> None:
        """Passages present in both must read the same: catches an index of another store."""
        if not len(self.ids):
            return
        sample = np.unique(np.linspace(0, len(self.ids) - 1, SPOT_CHECKS).astype(np.int64))
        stored = {c.id: c.text for c in self.store.chunks_by_ids(int(self.ids[i]) for i in sample)
                  .values()}  # fmt: skip
        for i in sample:
            text = stored.get(int(self.ids[i]))
            if text is not None and len(tokenize(text)) != int(self.lengths[i]):
                raise LexicalIndexProblem(f"{self.path.name if self.path else 'index'} "
                                          "does not match the stored passages")  # fmt: skip

    # searching -------------------------------------------------------------------------

    def _postings(self, key: Key) -> tuple[np.ndarray, np.ndarray]:
        """Positions and term counts of the live passages matching a key, one entry each."""
        slices = []
        for segment in (self.base, self.delta):
            lo, hi = segment.span(key)
            if hi > lo:
                slices.append((segment, lo, hi))
        if not slices:
            return np.zeros(0, np.int32), np.zeros(0, np.float64)
        segment, lo, hi = slices[0]
        docs: np.ndarray
        tf: np.ndarray
        if len(slices) == 1 and segment.unique(key):
            docs, tf = segment.docs[lo:hi], segment.tfs[lo:hi].astype(np.float64)
        else:  # a stem spanning several words, or a word in both segments: add up per passage
            docs = np.concatenate([s.docs[a:b] for s, a, b in slices])
            weights = np.concatenate([s.tfs[a:b] for s, a, b in slices])
            counts = np.bincount(docs, weights=weights, minlength=len(self.ids))
            docs = np.flatnonzero(counts)
            tf = counts[docs]
        if self.dead:
            live = self.alive[docs]
            docs, tf = docs[live], tf[live]
        return docs, tf

    def bm25(self, keys: list[Key], limit: int) -> list[tuple[int, float]]:
        """Passages ranked by BM25 over the keys (any may match), best first."""
        with self.lock:
            scores = np.zeros(len(self.ids), np.float64)
            for key in keys:
                docs, tf = self._postings(key)
                n = len(docs)
                if not n:
                    continue
                idf = max(math.log((self.live - n + 0.5) / (n + 0.5)), 1e-6)
                scores[docs] += idf * tf * (K1 + 1) / (tf + self.norm[docs])
            return self._top(scores, limit)

    def _top(self, scores: np.ndarray, limit: int) -> list[tuple[int, float]]:
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > limit:
            part = np.argpartition(-scores[candidates], limit - 1)[:limit]
            candidates = candidates[part]
        order = candidates[np.argsort(-scores[candidates], kind="stable")]
        return [(int(self.ids[p]), float(scores[p])) for p in order]

    def newest(self, keys: list[Key], limit: int) -> list[int]:
        """Ids of the newest passages matching any key (no scoring), newest first."""
        with self.lock:
            matched = np.zeros(len(self.ids), bool)
            for key in keys:
                matched[self._postings(key)[0]] = True
            positions = np.flatnonzero(matched)[::-1][:limit]
            return [int(self.ids[p]) for p in positions]

    def contains(self, keys: list[Key]) -> bool:
        """Whether any live passage matches any key."""
        with self.lock:
            return any(len(self._postings(key)[0]) for key in keys)

    def count(self) -> int:
        return self.live
