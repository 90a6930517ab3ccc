"""Sentences fit to quote, and their vectors per passage.

The composer compares the question with every candidate sentence of the best passages. A
reindex takes those sentences' vectors from the passage's own forward pass (the mean of
each sentence's token vectors) and stores them with the index (`index/sentence_table.py`);
answers read them from there. A passage the stored table does
not hold (an index built before the table existed, or one being repaired) has its sentences
embedded on demand and kept in a bounded least-recently-used cache: a passage never
changes under one id, so that is done once per passage.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from sectorbot.corpus.chunking import sentence_spans

if TYPE_CHECKING:
    from sectorbot.index.sentence_table import SentenceTable

MAX_SENTENCE_CHARS = 600
CACHE_PASSAGES = 20_000  # about 15 sentences x 384 floats each: ~0.5 GB at the limit
# Stored tables record this; change it whenever `answer_spans` would cut text differently,
# so that tables cut the old way are rebuilt instead of serving vectors of other spans.
SPANS_VERSION = 3  # 3: sentence vectors from the passage's token vectors
ENDS_SENTENCE = re.compile(r"[.!?…][\"”’»)\]]*\s*$")
FOOTNOTE_RE = re.compile(r"\[\[[^\[\]\s]{1,12}\]\]\([^()\s]{1,500}\)|\[\d{1,3}\]")


def answer_spans(text: str) -> list[tuple[int, int]]:
    """Sentences fit to quote: scraped pages without full stops are cut at line breaks (a
    line that runs on into a lower-case one is one sentence), headings and list markers
    dropped, and what is still too long or too short skipped."""
    spans = []
    for s, e in sentence_spans(text):
        pieces = [(s, e)]
        if e - s > MAX_SENTENCE_CHARS or "\n" in text[s:e]:
            lines = [(s + m.start(), s + m.end()) for m in re.finditer(r"[^\n]+", text[s:e])]
            pieces = _rejoin(text, lines)
        for ps, pe in pieces:
            while ps < pe and text[ps] in "#*-•> \t":
                ps += 1
            while pe > ps and text[pe - 1] in " \t*":
                pe -= 1
            if 25 <= pe - ps <= MAX_SENTENCE_CHARS and _statement(text[ps:pe]):
                spans.append((ps, pe))
    return spans


def _rejoin(text: str, lines: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Lines of a hard-wrapped sentence back together: a line that does not end a sentence,
    followed by one that starts in lower case ("…in recent weeks," / "but the campaign…")."""
    joined: list[tuple[int, int]] = []
    for start, end in lines:
        if joined:
            last_start, last_end = joined[-1]
            head = text[start:end].lstrip()
            runs_on = not ENDS_SENTENCE.search(text[last_start:last_end]) and head[:1].islower()
            if runs_on and end - last_start <= MAX_SENTENCE_CHARS:
                joined[-1] = (last_start, end)
                continue
        joined.append((start, end))
    return joined


def _statement(sentence: str) -> bool:
    """Six words or more; or, ended by a full stop, five (a short statement such as "His
    call sign is Oumni.", not a headline or a list item, which go without one). Three or
    four words admitted too many fragments of quotes on the sample set."""
    words = len(sentence.split())
    return words >= 6 or (words >= 5 and bool(ENDS_SENTENCE.search(sentence)))


def quotable(text: str) -> str:
    """A sentence as shown: footnote markers out, whitespace folded."""
    return " ".join(FOOTNOTE_RE.sub("", text).split())


def sentence_texts(passages: list[str]) -> tuple[list[list[tuple[int, int]]], list[str]]:
    """Each passage's quotable spans, and the texts to embed for all of them, in order."""
    spans = [answer_spans(text) for text in passages]
    texts = [quotable(text[s:e]) for text, sp in zip(passages, spans, strict=True)
             for s, e in sp]  # fmt: skip
    return spans, texts


def embed_unique(embedder: Any, texts: list[str]) -> np.ndarray:
    """Vectors for the texts, each distinct text embedded once: neighbouring passages share
    a sentence (the chunker overlaps them by one), and boilerplate lines recur."""
    distinct = list(dict.fromkeys(texts))
    vectors = embedder.encode_passages(distinct)
    if len(distinct) == len(texts):
        return vectors
    row = {text: i for i, text in enumerate(distinct)}
    return vectors[[row[text] for text in texts]]


Entry = tuple[list[tuple[int, int]], np.ndarray]


def span_vector(tokens: np.ndarray, offsets: np.ndarray, start: int, end: int) -> np.ndarray | None:
    """The unit mean of the token vectors that overlap characters [start, end); None when
    no token does (the passage was cut at the model's maximum length before it)."""
    inside = (offsets[:, 0] < end) & (offsets[:, 1] > start) & (offsets[:, 1] > 0)
    if not inside.any():
        return None
    mean = tokens[inside].mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else mean


def passages_and_sentences(
    embedder: Any, texts: list[str]
) -> tuple[np.ndarray, list[list[tuple[int, int]]], list[np.ndarray]]:
    """Passage vectors and each passage's quotable sentences with their vectors, from one
    forward pass per passage: a sentence's vector is the mean of its tokens' vectors in the
    passage, so a reindex costs what encoding the passages costs. Sentences the model never
    saw (past its maximum length) are embedded on their own. Backends that give no token
    vectors embed every sentence on its own."""
    spans, words = sentence_texts(texts)
    if not getattr(embedder, "gives_tokens", False):
        vectors = embedder.encode_passages(texts) if texts else np.zeros((0, embedder.dim))
        flat = embed_unique(embedder, words) if words else np.zeros((0, embedder.dim))
        return vectors, spans, _split(flat, spans)
    encoded = embedder.encode_passage_tokens(texts)
    blocks: list[np.ndarray] = []
    unseen: list[tuple[int, int, str]] = []  # (passage, row, sentence text)
    for n, ((_, tokens, offsets), sp) in enumerate(zip(encoded, spans, strict=True)):
        block = np.zeros((len(sp), tokens.shape[1]), dtype=np.float32)
        for row, (s, e) in enumerate(sp):
            vector = span_vector(tokens, offsets, s, e)
            if vector is None:
                unseen.append((n, row, quotable(texts[n][s:e])))
            else:
                block[row] = vector
        blocks.append(block)
    if unseen:
        alone = embed_unique(embedder, [text for _, _, text in unseen])
        for (n, row, _), vector in zip(unseen, alone, strict=True):
            blocks[n][row] = vector
    dim = encoded[0][0].shape[0] if encoded else 0
    passages = np.vstack([v for v, _, _ in encoded]) if encoded else np.zeros((0, dim))
    return passages.astype(np.float32), spans, blocks


def _split(flat: np.ndarray, spans: list[list[tuple[int, int]]]) -> list[np.ndarray]:
    out, row = [], 0
    for sp in spans:
        out.append(flat[row : row + len(sp)])
        row += len(sp)
    return out


class SentenceVectors:
    """Spans and unit vectors of each passage's quotable sentences: from the stored table,
    else embedded and cached by passage id."""

    def __init__(
        self, embedder: Any, table: Callable[[], SentenceTable | None] | None = None,
        capacity: int = CACHE_PASSAGES,
    ) -> None:  # fmt: skip
        self.embedder = embedder
        self.table = table or (lambda: None)  # read at each call: a reindex swaps the table
        self.capacity = capacity
        self._cache: OrderedDict[int, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, chunks: list[Any]) -> dict[int, Entry]:
        """Spans and vectors for each passage; those not stored embedded in one batch."""
        found: dict[int, Entry] = {}
        missing: list[Any] = []
        table = self.table()
        with self._lock:
            for chunk in chunks:
                stored = table.lookup(chunk.id) if table is not None else None
                if stored is not None and _fits(stored[0], chunk.text):
                    found[chunk.id] = stored
                elif chunk.id in self._cache:
                    self._cache.move_to_end(chunk.id)
                    found[chunk.id] = self._cache[chunk.id]
                elif chunk.id not in {c.id for c in missing}:
                    missing.append(chunk)
        if missing:
            _, spans, blocks = passages_and_sentences(self.embedder, [c.text for c in missing])
            with self._lock:
                for chunk, sp, block in zip(missing, spans, blocks, strict=True):
                    found[chunk.id] = self._cache[chunk.id] = (sp, block)
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
        return found


def _fits(spans: list[tuple[int, int]], text: str) -> bool:
    """A stored entry belongs to this text: a cheap guard against a table of another store."""
    return not spans or spans[-1][1] <= len(text)
