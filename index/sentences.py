"""Sentences fit to quote, and their vectors, remembered per passage.

The composer compares the question with every candidate sentence of the best passages. A
passage never changes under one id, so its sentences are cut and embedded once and kept in
a bounded least-recently-used cache; the passages of a typical answer are mostly the same
few reports, so most questions embed nothing but themselves.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from sectorbot.corpus.chunking import sentence_spans

MAX_SENTENCE_CHARS = 600
CACHE_PASSAGES = 20_000  # about 15 sentences x 384 floats each: ~0.5 GB at the limit
FOOTNOTE_RE = re.compile(r"\[\[[^\[\]\s]{1,12}\]\]\([^()\s]{1,500}\)|\[\d{1,3}\]")


def answer_spans(text: str) -> list[tuple[int, int]]:
    """Sentences fit to quote: scraped pages without full stops are cut at line breaks,
    headings and list markers dropped, and what is still too long or too short skipped."""
    spans = []
    for s, e in sentence_spans(text):
        pieces = [(s, e)]
        if e - s > MAX_SENTENCE_CHARS or "\n" in text[s:e]:
            pieces = [(s + m.start(), s + m.end()) for m in re.finditer(r"[^\n]+", text[s:e])]
        for ps, pe in pieces:
            while ps < pe and text[ps] in "#*-•> \t":
                ps += 1
            while pe > ps and text[pe - 1] in " \t*":
                pe -= 1
            # Fewer than six words is a headline or a list item, not a statement to quote.
            if 25 <= pe - ps <= MAX_SENTENCE_CHARS and len(text[ps:pe].split()) >= 6:
                spans.append((ps, pe))
    return spans


def quotable(text: str) -> str:
    """A sentence as shown: footnote markers out, whitespace folded."""
    return " ".join(FOOTNOTE_RE.sub("", text).split())


class SentenceVectors:
    """Spans and unit vectors of each passage's quotable sentences, cached by passage id."""

    def __init__(self, embedder: Any, capacity: int = CACHE_PASSAGES) -> None:
        self.embedder = embedder
        self.capacity = capacity
        self._cache: OrderedDict[int, tuple[list[tuple[int, int]], np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, chunks: list[Any]) -> dict[int, tuple[list[tuple[int, int]], np.ndarray]]:
        """Spans and vectors for each passage; the missing ones embedded in one batch."""
        found: dict[int, tuple[list[tuple[int, int]], np.ndarray]] = {}
        missing = []
        with self._lock:
            for chunk in chunks:
                if chunk.id in self._cache:
                    self._cache.move_to_end(chunk.id)
                    found[chunk.id] = self._cache[chunk.id]
                elif chunk.id not in {c.id for c in missing}:
                    missing.append(chunk)
        if missing:
            spans = [answer_spans(c.text) for c in missing]
            texts = [quotable(c.text[s:e]) for c, sp in zip(missing, spans, strict=True)
                     for s, e in sp]  # fmt: skip
            vectors = self.embedder.encode_passages(texts)
            offset = 0
            with self._lock:
                for chunk, sp in zip(missing, spans, strict=True):
                    entry = (sp, vectors[offset : offset + len(sp)])
                    offset += len(sp)
                    found[chunk.id] = self._cache[chunk.id] = entry
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
        return found
