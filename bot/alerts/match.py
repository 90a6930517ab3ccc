"""Matching new documents against every subscription, and draining the alert inbox.

Flow: a feed document is inserted -> a trigger puts its id in `alert_inbox` (same
transaction) -> `process_inbox` matches it and, in one transaction, queues one `alerts` row
per (chat, document) and deletes the inbox row. See docs/alerts.md.

Matching rules
--------------
* **Places** through the gazetteer (`find` on title + text): every spelling, case form and
  former name of the subscribed place, with the gazetteer's capitalisation/context rules.
* **Keywords** on whole words, case-insensitive, ё = е, one apostrophe. A Latin word also
  matches its plural/possessive (`mine` -> `mines`, `mine's`, not `minefield`). A Cyrillic
  word of five letters or more, minus a final vowel/й/ь, matches with up to three more
  letters (`родовище` -> `родовища`, `родовищем`), a minimal allowance for Ukrainian and
  Russian case endings. Shorter words match exactly. Words of a multi-word keyword may be
  separated by spaces or one dash.
* **Topics** by cosine similarity between the topic's vector and the vector of the document's
  title + first chunk, at or above :data:`TOPIC_THRESHOLD`.

All keywords of all chats are compiled into one regular expression over their first words
(shaped as a character trie); a hit is confirmed with that keyword's own pattern. Topic
vectors are stacked into one matrix. Both are rebuilt only when the subscriptions change.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from sectorbot.bot.alerts import outbox
from sectorbot.bot.alerts.store import AlertStore, NewAlert
from sectorbot.bot.alerts.subscriptions import describe
from sectorbot.bot.i18n import DEFAULT, language
from sectorbot.corpus.chunking import sentence_spans
from sectorbot.corpus.text import (
    CYRILLIC_RE,
    DASH_GAP,
    WORD_END,
    WORD_START,
    fold,
    literal_units,
    trie_regex,
)
from sectorbot.index.gazetteer import Gazetteer

if TYPE_CHECKING:
    from sectorbot.index.embedding import Embedder

# Calibrated on the sample corpus with the default model, multilingual-e5-small
# (bench/bench_alerts.py, "topic calibration"): ten topics, hand-labelled English documents.
# Score = cosine(topic, title + first chunk). e5 puts every pair of texts at 0.7-0.9, so
# the gap is narrow: for the eight specific topics (drone strikes on supply roads, evacuation
# of civilians, coal mine closure, lithium deposit, water and gas supply cut, nuclear power
# plant safety, warship sunk in the Black Sea, missile strike on a children's hospital) the
# on-topic documents score 0.832-0.897 and documents that never mention the subject at most
# 0.827, so 0.83 sits in the gap (recall 12/12, no false alert among 256 off-topic pairs).
# Broad topics do not separate ("Kursk incursion": on 0.866, off up to 0.848). Another
# model needs its own calibration.
TOPIC_THRESHOLD = 0.83
MAX_AGE_DAYS = 7  # an entry published longer ago than this is history, not news
EXCERPT_CHARS = 320

_ENDING_LETTERS = frozenset("аеєиіїоуюяыэйь")
_LATIN_SUFFIX = r"(?:s|es|'s)?"
_CYRILLIC_SUFFIX = r"[^\W\d_]{0,3}"


# keywords ----------------------------------------------------------------------------------


def word_form(word: str) -> tuple[str, str]:
    """(literal stem, suffix regex) of one folded keyword word (see module doc)."""
    if CYRILLIC_RE.search(word) and len(word) >= 5:
        stem = word[:-1] if word[-1] in _ENDING_LETTERS else word
        return stem, _CYRILLIC_SUFFIX
    if word.isascii() and word.isalpha():
        return word, _LATIN_SUFFIX
    return word, ""


def keyword_regex(normalized: str) -> str:
    """The whole-word pattern of one folded keyword."""
    parts = [re.escape(stem) + suffix for stem, suffix in map(word_form, normalized.split())]
    return WORD_START + DASH_GAP.join(parts) + WORD_END


class KeywordIndex:
    """All distinct keywords: one combined first-word regex, then a check per candidate."""

    def __init__(self, keywords: Iterable[str]) -> None:
        self.patterns = {k: re.compile(keyword_regex(k)) for k in dict.fromkeys(keywords)}
        firsts: set[tuple[str, str]] = set()
        self.families: dict[str, list[str]] = defaultdict(list)
        for keyword in self.patterns:
            stem, suffix = word_form(keyword.split()[0])
            firsts.add((stem, suffix))
            # Keyed by up to four leading letters: a hit's own first letters find it.
            self.families[stem[:4]].append(keyword)
        body = trie_regex((literal_units(stem), suffix) for stem, suffix in firsts)
        self.combined = re.compile(WORD_START + body + WORD_END)

    def find(self, folded: str) -> dict[str, int]:
        """Keyword -> offset of its first occurrence in a folded text."""
        found: dict[str, int] = {}
        if not self.patterns:
            return found
        for m in self.combined.finditer(folded):
            start, surface = m.start(), m.group()
            for n in range(1, 5):
                for keyword in self.families.get(surface[:n], ()):
                    if keyword not in found and self.patterns[keyword].match(folded, start):
                        found[keyword] = start
        return found


# matching ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubRef:
    """What matching needs of one subscription."""

    id: int
    chat_id: int
    kind: str
    value: str
    normalized: str

    @property
    def label(self) -> str:
        """How replies and alerts name the subscription."""
        return describe(self.kind, self.value, self.normalized)


@dataclass(frozen=True)
class Hit:
    """One subscription that matched a document; `at` is an offset into title + text."""

    sub: SubRef
    at: int | None = None
    score: float | None = None


@dataclass(frozen=True)
class DocText:
    """The parts of a document that matching and the excerpt look at."""

    id: int
    title: str
    text: str
    published: str | None = None

    @property
    def body(self) -> str:
        """Title and text, as matched."""
        return f"{self.title}\n\n{self.text}"


class Matcher:
    """Every active chat's subscriptions, compiled for matching; reloads when they change."""

    def __init__(
        self,
        store: AlertStore,
        embedder: Embedder | None = None,
        gazetteer: Gazetteer | None = None,
        threshold: float = TOPIC_THRESHOLD,
        language_of: Callable[[int], str | None] | None = None,
    ) -> None:
        self.store = store
        # The language a chat chose (/language): what its alerts call the matched items.
        self.language_of = language_of
        self.embedder = embedder
        self.gazetteer = gazetteer or Gazetteer.default()
        self.threshold = threshold
        self._signature: tuple[int, int, int] | None = None
        self.places: dict[str, list[SubRef]] = {}
        self.keywords: dict[str, list[SubRef]] = {}
        self.keyword_index = KeywordIndex(())
        self.topics: list[SubRef] = []
        self.topic_matrix = np.zeros((0, 0), dtype=np.float32)

    @property
    def count(self) -> int:
        """How many subscriptions are loaded."""
        places = sum(map(len, self.places.values()))
        return places + sum(map(len, self.keywords.values())) + len(self.topics)

    def refresh(self) -> bool:
        """Reload the subscriptions if any changed since the last load; True if reloaded."""
        signature = self.store.subscription_signature()
        if signature == self._signature:
            return False
        self._load()
        self._signature = signature
        return True

    def _load(self) -> None:
        """Read every active chat's subscriptions and compile them."""
        places: dict[str, list[SubRef]] = defaultdict(list)
        keywords: dict[str, list[SubRef]] = defaultdict(list)
        topics: list[tuple[SubRef, dict[str, Any]]] = []
        for row in self.store.active_subscriptions():
            sub = SubRef(row["id"], row["chat_id"], row["kind"], row["value"], row["normalized"])
            if sub.kind == "place":
                places[sub.normalized].append(sub)
            elif sub.kind == "keyword":
                keywords[sub.normalized].append(sub)
            else:
                topics.append((sub, row))
        self.places, self.keywords = dict(places), dict(keywords)
        self.keyword_index = KeywordIndex(self.keywords)
        self.topics, self.topic_matrix = self._topic_matrix(topics)

    def _topic_matrix(
        self, topics: list[tuple[SubRef, dict[str, Any]]]
    ) -> tuple[list[SubRef], np.ndarray]:
        """The topics that have vectors, and their vectors stacked (rows unit length)."""
        if not topics or self.embedder is None:
            return [], np.zeros((0, 0), dtype=np.float32)
        stale = [
            (s, r) for s, r in topics if r["model"] != self.embedder.model_id or not r["vector"]
        ]
        if stale:  # vectors from another model are not comparable: embed those topics again
            self._reembed([s for s, _ in stale])
        stored = self.store.topic_vectors(s.id for s, _ in topics)
        fresh = {i: np.frombuffer(v, dtype=np.float32) for i, v in stored.items()}
        subs = [s for s, _ in topics if s.id in fresh]
        return subs, np.vstack([fresh[s.id] for s in subs]).astype(np.float32)

    def _reembed(self, subs: list[SubRef]) -> None:
        """Embed topics again whose stored vectors came from another model."""
        assert self.embedder is not None
        vectors = self.embedder.encode_queries([s.value for s in subs])
        model = self.embedder.model_id
        self.store.set_topic_vectors(
            [
                (sub.id, np.asarray(vec, dtype=np.float32).tobytes(), model)
                for sub, vec in zip(subs, vectors, strict=True)
            ]
        )

    def document_vectors(self, docs: Sequence[DocText]) -> np.ndarray | None:
        """The documents' topic vectors; None when no chat has a topic (nothing to embed)."""
        if not self.topics or self.embedder is None or not docs:
            return None
        return embed_documents(self.store, self.embedder, docs)

    def match(self, doc: DocText, vector: np.ndarray | None = None) -> dict[int, list[Hit]]:
        """Chat id -> the subscriptions of that chat that this document matches."""
        by_chat: dict[int, list[Hit]] = defaultdict(list)
        body = doc.body
        if self.places:
            for found in self.gazetteer.find(body):
                for sub in self.places.get(found.place.id, ()):
                    by_chat[sub.chat_id].append(Hit(sub, found.start))
        if self.keywords:
            for keyword, at in self.keyword_index.find(fold(body)).items():
                for sub in self.keywords[keyword]:
                    by_chat[sub.chat_id].append(Hit(sub, at))
        if vector is not None and self.topics:
            scores = self.topic_matrix @ np.asarray(vector, dtype=np.float32)
            for i in np.flatnonzero(scores >= self.threshold):
                sub = self.topics[int(i)]
                by_chat[sub.chat_id].append(Hit(sub, None, float(scores[i])))
        return {chat: _first_per_sub(hits) for chat, hits in by_chat.items()}


def embed_documents(store: AlertStore, embedder: Embedder, docs: Sequence[DocText]) -> np.ndarray:
    """Title + first chunk of each document, embedded: what topics are compared with."""
    firsts = store.first_chunks(d.id for d in docs)
    texts = [f"{d.title}\n\n{firsts.get(d.id) or d.text[:2000]}" for d in docs]
    return embedder.encode_passages(texts)


def _first_per_sub(hits: list[Hit]) -> list[Hit]:
    """One hit per subscription (its earliest), places first, then keywords, then topics."""
    best: dict[int, Hit] = {}
    for hit in hits:
        if hit.sub.id not in best or (hit.at or 0) < (best[hit.sub.id].at or 0):
            best[hit.sub.id] = hit
    order = {"place": 0, "keyword": 1, "topic": 2}
    return sorted(best.values(), key=lambda h: (order[h.sub.kind], h.sub.id))


# the inbox ---------------------------------------------------------------------------------


@dataclass
class InboxResult:
    """What one pass over the inbox did."""

    documents: int = 0
    alerts: int = 0


def process_inbox(
    store: AlertStore,
    matcher: Matcher,
    now: float | None = None,
    batch: int = 200,
    max_age_days: int = MAX_AGE_DAYS,
) -> InboxResult:
    """Match every document waiting in the inbox and queue its alerts (idempotent)."""
    now = time.time() if now is None else now
    result = InboxResult()
    matcher.refresh()
    while rows := store.inbox(batch):
        docs = [DocText(r["id"], r["title"], r["text"], r["published"]) for r in rows]
        result.alerts += _queue_batch(store, matcher, docs, now, max_age_days)
        result.documents += len(docs)
    return result


def _queue_batch(
    store: AlertStore, matcher: Matcher, docs: list[DocText], now: float, max_age_days: int
) -> int:
    """Match one batch of inbox documents and queue their alerts; how many were queued."""
    cutoff = (datetime.fromtimestamp(now, UTC) - timedelta(days=max_age_days)).strftime("%Y-%m-%d")
    fresh = [d for d in docs if not d.published or d.published[:10] >= cutoff]
    vectors = matcher.document_vectors(fresh)  # embedding happens outside the transaction
    alerts = [
        _alert(chat_id, doc, hits, matcher.language_of)
        for i, doc in enumerate(fresh)
        for chat_id, hits in matcher.match(doc, None if vectors is None else vectors[i]).items()
    ]
    return outbox.queue(store, alerts, [d.id for d in docs], now)


def _alert(
    chat_id: int, doc: DocText, hits: list[Hit], language_of: Callable[[int], str | None] | None
) -> NewAlert:
    """The outbox row for one chat and one document: its first hit, every label, an extract."""
    at = min((h.at for h in hits if h.at is not None), default=None)
    # Labels are stored with the alert, so they are written in the chat's language now.
    with language((language_of(chat_id) if language_of else None) or DEFAULT):
        matched = ", ".join(h.sub.label for h in hits)
    return NewAlert(chat_id, doc.id, hits[0].sub.id, matched, excerpt(doc, at))


def discard_inbox(store: AlertStore, document_ids: Iterable[int]) -> int:
    """Take documents out of the inbox without alerting (a new feed's backlog)."""
    ids = list(document_ids)
    return store.discard_inbox(ids) if ids else 0


def excerpt(doc: DocText, at: int | None, limit: int = EXCERPT_CHARS) -> str:
    """The sentence holding the match (plus the next if short), else the first sentences."""
    offset = len(doc.title) + 2
    spans = list(sentence_spans(doc.text))
    if not spans:
        return ""
    index = 0
    if at is not None and at >= offset:
        pos = at - offset
        index = next((i for i, (s, e) in enumerate(spans) if s <= pos < e), 0)
    start, end = spans[index]
    if end - start < 120 and index + 1 < len(spans):
        end = spans[index + 1][1]
    text = " ".join(doc.text[start:end].split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
