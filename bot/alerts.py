"""Alerts: match new documents against every subscription, queue them, send them once.

Flow: a feed document is inserted -> a trigger puts its id in `alert_inbox` (same
transaction) -> `process_inbox` matches it and, in one transaction, inserts one `alerts` row
per (chat, document) with INSERT OR IGNORE and deletes the inbox row -> `Sender.send_due`
groups a chat's due alerts into digest messages and marks them sent only after Telegram
accepted the message. See docs/alerts.md.

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

import asyncio
import html
import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from sectorbot.bot.subscriptions import describe, fold, parse_stamp, stamp
from sectorbot.corpus.chunking import sentence_spans
from sectorbot.corpus.store import Store
from sectorbot.index.gazetteer import Gazetteer

if TYPE_CHECKING:
    from telegram import Bot

    from sectorbot.index.embedding import Embedder

log = logging.getLogger(__name__)

# Calibrated on the sample corpus with all-MiniLM-L6-v2 (bench/bench_alerts.py, "topic
# calibration"): ten topics, hand-labelled English documents. Score = cosine(topic,
# title + first chunk). For the eight specific topics (drone strikes on supply roads,
# evacuation of civilians, coal mine closure, lithium deposit, water and gas supply cut,
# nuclear power plant safety, warship sunk in the Black Sea, missile strike on a children's
# hospital) the on-topic documents score 0.374-0.669 and documents that never mention the
# subject at most 0.311, so 0.34 sits in the gap (recall 12/12, no false alert among 256
# off-topic pairs). Broad topics do not separate ("desertion from brigades": on 0.398, off
# up to 0.392); Ukrainian and Russian text scores near 0 with this English-only model.
TOPIC_THRESHOLD = 0.34
MAX_AGE_DAYS = 7  # an entry published longer ago than this is history, not news
MESSAGE_LIMIT = 4096  # Telegram's limit for one message, in UTF-16 code units
RETRY_BASE = 30.0  # seconds before the first retry; doubles with each attempt
RETRY_MAX = 3600.0
MAX_FAILED_ATTEMPTS = 8  # only for errors that are neither transient nor about the chat
SEND_CONCURRENCY = 8
TITLE_CHARS = 300
EXCERPT_CHARS = 320

_CYRILLIC = re.compile("[\u0400-\u04ff]")
_ENDING_LETTERS = frozenset("аеєиіїоуюяыэйь")
_BEFORE = r"(?<![^\W_])"
_AFTER = r"(?![^\W_])"
_GAP = r"(?:\s+|\s*[-‐‑‒–—―]\s*)"
_LATIN_SUFFIX = r"(?:s|es|'s)?"
_CYRILLIC_SUFFIX = r"[^\W\d_]{0,3}"
# 403s and these 400s mean the chat cannot be written to again; retrying is pointless.
_GONE_PHRASES = (
    "chat not found",
    "group chat was deactivated",
    "chat_write_forbidden",
    "not enough rights to send",
    "user is deactivated",
    "peer_id_invalid",
)


# keywords ----------------------------------------------------------------------------------


def word_form(word: str) -> tuple[str, str]:
    """(literal stem, suffix regex) of one folded keyword word (see module doc)."""
    if _CYRILLIC.search(word) and len(word) >= 5:
        stem = word[:-1] if word[-1] in _ENDING_LETTERS else word
        return stem, _CYRILLIC_SUFFIX
    if word.isascii() and word.isalpha():
        return word, _LATIN_SUFFIX
    return word, ""


def keyword_regex(normalized: str) -> str:
    """The whole-word pattern of one folded keyword."""
    parts = [re.escape(stem) + suffix for stem, suffix in map(word_form, normalized.split())]
    return _BEFORE + _GAP.join(parts) + _AFTER


def _trie(entries: dict[str, set[str]]) -> str:
    """One pattern for many (literal, suffix) pairs, shaped as a trie of the literals."""
    end = ""
    root: dict[str, Any] = {}
    for literal, suffixes in entries.items():
        node = root
        for ch in literal:
            node = node.setdefault(ch, {})
        node.setdefault(end, set()).update(suffixes)

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        branches.extend(sorted(node.get(end, ())))
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(root)


class KeywordIndex:
    """All distinct keywords: one combined first-word regex, then a check per candidate."""

    def __init__(self, keywords: Iterable[str]) -> None:
        self.patterns = {k: re.compile(keyword_regex(k)) for k in dict.fromkeys(keywords)}
        firsts: dict[str, set[str]] = defaultdict(set)
        self.families: dict[str, list[str]] = defaultdict(list)
        for keyword in self.patterns:
            stem, suffix = word_form(keyword.split()[0])
            firsts[stem].add(suffix)
            # Keyed by up to four leading letters: a hit's own first letters find it.
            self.families[stem[:4]].append(keyword)
        body = _trie(firsts) if firsts else "(?!)"
        self.combined = re.compile(_BEFORE + body + _AFTER)

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
        store: Store,
        embedder: Embedder | None = None,
        gazetteer: Gazetteer | None = None,
        threshold: float = TOPIC_THRESHOLD,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.gazetteer = gazetteer or Gazetteer.default()
        self.threshold = threshold
        self._signature: tuple[Any, ...] | None = None
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
        signature = tuple(
            self.store.query(
                "SELECT count(*) AS n, coalesce(max(s.id), 0) AS top, coalesce(sum(s.id), 0) AS "
                "total FROM subscriptions s JOIN chats c ON c.chat_id = s.chat_id AND c.active = 1"
            )[0].values()
        )
        if signature == self._signature:
            return False
        self._load()
        self._signature = signature
        return True

    def _load(self) -> None:
        """Read every active chat's subscriptions and compile them."""
        rows = self.store.query(
            "SELECT s.id, s.chat_id, s.kind, s.value, s.normalized, s.vector, s.model "
            "FROM subscriptions s JOIN chats c ON c.chat_id = s.chat_id AND c.active = 1 "
            "ORDER BY s.id"
        )
        places: dict[str, list[SubRef]] = defaultdict(list)
        keywords: dict[str, list[SubRef]] = defaultdict(list)
        topics: list[tuple[SubRef, dict[str, Any]]] = []
        for row in rows:
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
        fresh = dict(self._stored_vectors([s.id for s, _ in topics]))
        subs = [s for s, _ in topics if s.id in fresh]
        return subs, np.vstack([fresh[s.id] for s in subs]).astype(np.float32)

    def _reembed(self, subs: list[SubRef]) -> None:
        """Embed topics again whose stored vectors came from another model."""
        assert self.embedder is not None
        vectors = self.embedder.encode_queries([s.value for s in subs])
        with self.store.transaction():
            for sub, vec in zip(subs, vectors, strict=True):
                self.store.db.execute(
                    "UPDATE subscriptions SET vector = ?, model = ? WHERE id = ?",
                    [np.asarray(vec, dtype=np.float32).tobytes(), self.embedder.model_id, sub.id],
                )

    def _stored_vectors(self, ids: list[int]) -> list[tuple[int, np.ndarray]]:
        """(subscription id, vector) of these topic subscriptions."""
        out = []
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            for row in self.store.query(
                f"SELECT id, vector FROM subscriptions WHERE id IN ({marks})", part
            ):
                out.append((row["id"], np.frombuffer(row["vector"], dtype=np.float32)))
        return out

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


def embed_documents(store: Store, embedder: Embedder, docs: Sequence[DocText]) -> np.ndarray:
    """Title + first chunk of each document, embedded: what topics are compared with."""
    firsts = {d.id: "" for d in docs}
    marks = ",".join("?" * len(firsts))
    for row in store.query(
        f"SELECT document_id, text FROM chunks WHERE ordinal = 0 AND document_id IN ({marks})",
        list(firsts),
    ):
        firsts[row["document_id"]] = row["text"]
    return embedder.encode_passages([f"{d.title}\n\n{firsts[d.id] or d.text[:2000]}" for d in docs])


def _first_per_sub(hits: list[Hit]) -> list[Hit]:
    """One hit per subscription (its earliest), places first, then keywords, then topics."""
    best: dict[int, Hit] = {}
    for hit in hits:
        if hit.sub.id not in best or (hit.at or 0) < (best[hit.sub.id].at or 0):
            best[hit.sub.id] = hit
    order = {"place": 0, "keyword": 1, "topic": 2}
    return sorted(best.values(), key=lambda h: (order[h.sub.kind], h.sub.id))


# the inbox and the outbox --------------------------------------------------------------------


@dataclass
class InboxResult:
    """What one pass over the inbox did."""

    documents: int = 0
    alerts: int = 0
    too_old: int = 0
    by_document: dict[int, int] = field(default_factory=dict)


def process_inbox(
    store: Store,
    matcher: Matcher,
    now: float | None = None,
    batch: int = 200,
    max_age_days: int = MAX_AGE_DAYS,
) -> InboxResult:
    """Match every document waiting in the inbox and queue its alerts (idempotent)."""
    now = time.time() if now is None else now
    result = InboxResult()
    matcher.refresh()
    while rows := store.query(
        "SELECT d.id, d.title, d.text, d.published FROM alert_inbox i "
        "JOIN documents d ON d.id = i.document_id ORDER BY i.document_id LIMIT ?",
        [batch],
    ):
        docs = [DocText(r["id"], r["title"], r["text"], r["published"]) for r in rows]
        _queue_batch(store, matcher, docs, now, max_age_days, result)
    return result


def _queue_batch(
    store: Store,
    matcher: Matcher,
    docs: list[DocText],
    now: float,
    max_age_days: int,
    result: InboxResult,
) -> None:
    """Match one batch of inbox documents and queue their alerts in one transaction."""
    cutoff = (datetime.fromtimestamp(now, UTC) - timedelta(days=max_age_days)).strftime("%Y-%m-%d")
    fresh = [d for d in docs if not d.published or d.published[:10] >= cutoff]
    vectors = matcher.document_vectors(fresh)  # embedding happens outside the transaction
    rows = []
    for i, doc in enumerate(fresh):
        for chat_id, hits in matcher.match(doc, None if vectors is None else vectors[i]).items():
            rows.append(_alert_row(chat_id, doc, hits, now))
    with store.transaction():
        for row in rows:
            cursor = store.db.execute(_ENQUEUE, row)
            result.alerts += cursor.rowcount
            result.by_document[row[1]] = result.by_document.get(row[1], 0) + cursor.rowcount
        marks = ",".join("?" * len(docs))
        store.db.execute(
            f"DELETE FROM alert_inbox WHERE document_id IN ({marks})", [d.id for d in docs]
        )
    result.documents += len(docs)
    result.too_old += len(docs) - len(fresh)


# The EXISTS guards: a chat deactivated or a subscription removed while matching ran gets no
# row (INSERT OR IGNORE covers only the unique key, not foreign keys).
_ENQUEUE = (
    "INSERT OR IGNORE INTO alerts (chat_id, document_id, subscription_id, matched, excerpt, "
    "created, next_attempt) SELECT ?, ?, ?, ?, ?, ?, ? "
    "WHERE EXISTS (SELECT 1 FROM chats WHERE chat_id = ? AND active = 1) "
    "AND EXISTS (SELECT 1 FROM subscriptions WHERE id = ?)"
)


def _alert_row(chat_id: int, doc: DocText, hits: list[Hit], now: float) -> list[Any]:
    """The outbox row (and its guard parameters) for one chat and one document."""
    first = hits[0]
    matched = ", ".join(h.sub.label for h in hits)
    at = min((h.at for h in hits if h.at is not None), default=None)
    when = stamp(now)
    return [chat_id, doc.id, first.sub.id, matched, excerpt(doc, at), when, when, chat_id,
            first.sub.id]  # fmt: skip


def discard_inbox(store: Store, document_ids: Iterable[int]) -> int:
    """Take documents out of the inbox without alerting (a new feed's backlog)."""
    ids = list(document_ids)
    if not ids:
        return 0
    marks = ",".join("?" * len(ids))
    with store.transaction():
        cursor = store.db.execute(f"DELETE FROM alert_inbox WHERE document_id IN ({marks})", ids)
    return cursor.rowcount


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


# rendering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingAlert:
    """A queued alert joined with what its message shows."""

    id: int
    chat_id: int
    document_id: int
    matched: str
    excerpt: str
    attempts: int
    title: str
    source: str
    published: str | None
    url: str | None


def render_alert(alert: PendingAlert) -> str:
    """One alert as a Telegram HTML block: headline (linked), publisher and date, extract,
    the link, and what matched."""
    title = _clip(" ".join(alert.title.split()) or "(untitled)", TITLE_CHARS)
    head = f"<b>{_esc(title)}</b>"
    meta = " · ".join(p for p in (alert.source, _date(alert.published)) if p)
    lines = [head]
    if meta:
        lines.append(f"<i>{_esc(_clip(meta, 200))}</i>")
    if alert.excerpt:
        lines.append(_esc(alert.excerpt))
    if alert.url:
        url = _clip(alert.url, 1000)
        lines.append(f'<a href="{html.escape(url, quote=True)}">{_esc(url)}</a>')
    lines.append(f"Matched: {alert.matched}")  # labels are stored HTML-escaped
    return "\n".join(lines)


def render_digest(
    alerts: Sequence[PendingAlert], limit: int = MESSAGE_LIMIT
) -> list[tuple[str, list[int]]]:
    """Messages for one chat, each under `limit`, with the alert ids each one carries."""
    blocks = [(render_alert(a), a.id) for a in alerts]
    head = "🔔 New report" if len(alerts) == 1 else f"🔔 {len(alerts)} new reports"
    messages: list[tuple[str, list[int]]] = []
    text, ids = f"<b>{head}</b>", []
    for block, alert_id in blocks:
        candidate = f"{text}\n\n{block}"
        if ids and _units(candidate) > limit:
            messages.append((text, ids))
            candidate = f"<b>{head} (continued)</b>\n\n{block}"
            ids = []
        text = candidate
        ids.append(alert_id)
    if ids:
        messages.append((text, ids))
    return messages


def _units(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts."""
    # Counted on the HTML source: the text Telegram counts is never longer than that.
    return len(text.encode("utf-16-le")) // 2


def _date(published: str | None) -> str:
    """`1 Feb 2025` from a stored date."""
    if not published:
        return ""
    try:
        return datetime.fromisoformat(published[:10]).strftime("%-d %b %Y")
    except ValueError:
        return published[:10]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


# sending -----------------------------------------------------------------------------------


@dataclass
class SendReport:
    """What one round of sending did."""

    messages: int = 0
    alerts: int = 0
    retried: int = 0
    dead: int = 0
    deactivated: list[int] = field(default_factory=list)
    skipped_chats: int = 0  # quiet hours or digest interval not yet over


@dataclass(frozen=True)
class Failure:
    """How to treat a failed send: retry later, give up on the chat, or count a failure."""

    action: str  # "retry", "gone", "migrate", "failed"
    reason: str
    delay: float = 0.0
    new_chat_id: int | None = None


def classify(exc: BaseException) -> Failure:
    """Sort a send error: transient (retry), the chat is gone, or something else."""
    from telegram import error as tg

    reason = _one_line(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, tg.RetryAfter):
        # PTB 22.2+ keeps a timedelta privately; the public attribute warns about its type.
        wait = getattr(exc, "_retry_after", None) or exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        return Failure("retry", reason, delay=seconds)
    if isinstance(exc, tg.ChatMigrated):
        return Failure("migrate", reason, new_chat_id=int(exc.new_chat_id))
    if isinstance(exc, tg.Forbidden):
        return Failure("gone", reason)
    if isinstance(exc, tg.BadRequest):
        gone = any(p in str(exc).lower() for p in _GONE_PHRASES)
        return Failure("gone" if gone else "failed", reason)
    # TimedOut, NetworkError (5xx included), other API errors and anything unexpected:
    # transient as far as we can tell, so retried and never dropped.
    return Failure("retry", reason)


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def in_quiet_hours(chat: dict[str, Any], now: float) -> bool:
    """Whether `now` falls in the chat's quiet hours (start inclusive, end exclusive)."""
    start, end = chat.get("quiet_start"), chat.get("quiet_end")
    if start is None or end is None:
        return False
    local = datetime.fromtimestamp(now, UTC) + timedelta(minutes=int(chat.get("utc_offset") or 0))
    hour = local.hour
    return start <= hour < end if start < end else hour >= start or hour < end


def digest_wait(chat: dict[str, Any], now: float) -> float:
    """Seconds until a chat in digest mode may get its next message (0: now)."""
    hours = int(chat.get("digest_hours") or 0)
    if not hours or not chat.get("last_sent"):
        return 0.0
    return max(0.0, parse_stamp(chat["last_sent"]) + hours * 3600 - now)


def quiet_until(chat: dict[str, Any], now: float) -> float:
    """When the chat's current quiet hours end (`now` when it is not in quiet hours)."""
    if not in_quiet_hours(chat, now):
        return now
    offset = int(chat.get("utc_offset") or 0) * 60
    local = now + offset
    end = local // 86400 * 86400 + int(chat["quiet_end"]) * 3600
    if end <= local:
        end += 86400
    return end - offset


def ready_at(chat: dict[str, Any], now: float) -> float:
    """The earliest time the chat may get a message: after quiet hours and the digest wait."""
    return max(quiet_until(chat, now), now + digest_wait(chat, now))


class Sender:
    """Sends due alerts, one digest per chat per round; safe to run again after a crash."""

    def __init__(
        self,
        store: Store,
        retry_base: float = RETRY_BASE,
        retry_max: float = RETRY_MAX,
        concurrency: int = SEND_CONCURRENCY,
    ) -> None:
        self.store = store
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.concurrency = concurrency
        self._lock = asyncio.Lock()

    def due(self, now: float) -> dict[int, list[PendingAlert]]:
        """Pending alerts whose time has come, by chat (active chats only)."""
        rows = self.store.query(
            "SELECT a.id, a.chat_id, a.document_id, a.matched, a.excerpt, a.attempts, d.title, "
            "d.source, d.published, d.url FROM alerts a "
            "JOIN documents d ON d.id = a.document_id "
            "JOIN chats c ON c.chat_id = a.chat_id AND c.active = 1 "
            "WHERE a.status = 'pending' AND a.next_attempt <= ? ORDER BY a.chat_id, a.id",
            [stamp(now)],
        )
        by_chat: dict[int, list[PendingAlert]] = defaultdict(list)
        for row in rows:
            by_chat[row["chat_id"]].append(PendingAlert(**row))
        return dict(by_chat)

    async def send_due(self, bot: Bot, now: float | None = None) -> SendReport:
        """Send every chat's due alerts; concurrent calls wait for each other."""
        report = SendReport()
        async with self._lock:
            now = time.time() if now is None else now
            due = self.due(now)
            if not due:
                return report
            chats = self._chats(list(due))
            gate = asyncio.Semaphore(self.concurrency)

            async def one(chat_id: int) -> None:
                async with gate:
                    await self._send_chat(bot, chats[chat_id], due[chat_id], now, report)

            await asyncio.gather(*(one(c) for c in due if c in chats))
        return report

    def _chats(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """The chat rows of these ids."""
        marks = ",".join("?" * len(ids))
        rows = self.store.query(f"SELECT * FROM chats WHERE chat_id IN ({marks})", ids)
        return {row["chat_id"]: row for row in rows}

    async def _send_chat(
        self,
        bot: Bot,
        chat: dict[str, Any],
        alerts: list[PendingAlert],
        now: float,
        report: SendReport,
    ) -> None:
        """Send one chat's due alerts, part by part; stop at the first failure."""
        ready = ready_at(chat, now)
        if ready > now:  # held back, not failed: wake up when the chat may be written to
            self._postpone([a.id for a in alerts], ready)
            report.skipped_chats += 1
            return
        from telegram import LinkPreviewOptions
        from telegram.constants import ParseMode

        messages = render_digest(alerts)
        for n, (text, ids) in enumerate(messages):
            try:
                sent = await bot.send_message(
                    chat["chat_id"],
                    text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=len(alerts) > 1),
                )
            except Exception as exc:
                rest = [i for _, part in messages[n:] for i in part]
                self._failed(chat["chat_id"], rest, alerts, classify(exc), now, report)
                return
            self._mark_sent(chat["chat_id"], ids, sent.message_id, now)
            report.messages += 1
            report.alerts += len(ids)

    def _postpone(self, ids: list[int], until: float) -> None:
        """Hold alerts back until `until` without counting an attempt."""
        marks = ",".join("?" * len(ids))
        with self.store.transaction():
            self.store.db.execute(
                f"UPDATE alerts SET next_attempt = ? WHERE id IN ({marks}) AND status = 'pending'",
                [stamp(until), *ids],
            )

    def _mark_sent(self, chat_id: int, ids: list[int], message_id: int, now: float) -> None:
        """Record that Telegram accepted the message carrying these alerts."""
        marks = ",".join("?" * len(ids))
        when = stamp(now)
        with self.store.transaction():
            self.store.db.execute(
                "UPDATE alerts SET status = 'sent', sent_at = ?, message_id = ?, "
                f"attempts = attempts + 1, last_error = NULL WHERE id IN ({marks})",
                [when, message_id, *ids],
            )
            self.store.db.execute(
                "UPDATE chats SET last_sent = ? WHERE chat_id = ?", [when, chat_id]
            )

    def _failed(
        self,
        chat_id: int,
        ids: list[int],
        alerts: list[PendingAlert],
        failure: Failure,
        now: float,
        report: SendReport,
    ) -> None:
        """Apply a send failure to the alerts not yet sent: retry, give up, or drop the chat."""
        if failure.action == "gone":
            log.warning("chat %s deactivated: %s", chat_id, failure.reason)
            report.dead += deactivate_chat(self.store, chat_id, failure.reason, now)
            report.deactivated.append(chat_id)
            return
        if failure.action == "migrate" and failure.new_chat_id is not None:
            migrate_chat(self.store, chat_id, failure.new_chat_id, now)
            return
        attempts = max((a.attempts for a in alerts if a.id in set(ids)), default=0) + 1
        if failure.action == "failed" and attempts >= MAX_FAILED_ATTEMPTS:
            report.dead += self._give_up(ids, failure.reason)
            return
        delay = max(failure.delay, min(self.retry_base * 2 ** (attempts - 1), self.retry_max))
        log.info("alerts for chat %s retry in %.1f s: %s", chat_id, delay, failure.reason)
        marks = ",".join("?" * len(ids))
        with self.store.transaction():
            self.store.db.execute(
                "UPDATE alerts SET attempts = attempts + 1, next_attempt = ?, last_error = ? "
                f"WHERE id IN ({marks}) AND status = 'pending'",
                [stamp(now + delay), failure.reason, *ids],
            )
        report.retried += len(ids)

    def _give_up(self, ids: list[int], reason: str) -> int:
        """Mark alerts dead after too many failures that are not transient."""
        log.error("giving up on alerts %s after %d attempts: %s", ids, MAX_FAILED_ATTEMPTS, reason)
        marks = ",".join("?" * len(ids))
        with self.store.transaction():
            cursor = self.store.db.execute(
                "UPDATE alerts SET status = 'dead', attempts = attempts + 1, last_error = ? "
                f"WHERE id IN ({marks}) AND status = 'pending'",
                [reason, *ids],
            )
        return cursor.rowcount


def deactivate_chat(store: Store, chat_id: int, reason: str, now: float | None = None) -> int:
    """Stop alerting a chat that cannot be reached; its pending alerts die. Returns how many."""
    when = stamp(now)
    with store.transaction():
        store.db.execute(
            "UPDATE chats SET active = 0, deactivated_reason = ?, deactivated_at = ?, updated = ? "
            "WHERE chat_id = ?",
            [reason, when, when, chat_id],
        )
        cursor = store.db.execute(
            "UPDATE alerts SET status = 'dead', last_error = ? "
            "WHERE chat_id = ? AND status = 'pending'",
            [reason, chat_id],
        )
    return cursor.rowcount


def migrate_chat(store: Store, old_id: int, new_id: int, now: float | None = None) -> None:
    """A group became a supergroup: move its subscriptions and alerts to the new id."""
    import sqlite3

    try:
        with store.transaction():
            store.db.execute("UPDATE chats SET chat_id = ? WHERE chat_id = ?", [new_id, old_id])
    except sqlite3.IntegrityError:  # the supergroup already has its own row: keep that one
        deactivate_chat(store, old_id, f"migrated to supergroup {new_id}", now)


# status ------------------------------------------------------------------------------------


def outbox_status(store: Store, now: float | None = None) -> dict[str, Any]:
    """Numbers for /alertstatus: the queue, what was sent in the last 24 h, the chats."""
    now = time.time() if now is None else now
    day_ago = stamp(now - 86400)
    one = store.scalar
    return {
        "pending": one("SELECT count(*) FROM alerts WHERE status = 'pending'"),
        "due": one(
            "SELECT count(*) FROM alerts WHERE status = 'pending' AND next_attempt <= ?",
            [stamp(now)],
        ),
        "retrying": one("SELECT count(*) FROM alerts WHERE status = 'pending' AND attempts > 0"),
        "sent_24h": one(
            "SELECT count(*) FROM alerts WHERE status = 'sent' AND sent_at >= ?", [day_ago]
        ),
        "dead": one("SELECT count(*) FROM alerts WHERE status = 'dead'"),
        "inbox": one("SELECT count(*) FROM alert_inbox"),
        "chats": one("SELECT count(*) FROM chats WHERE active = 1"),
        "inactive_chats": one("SELECT count(*) FROM chats WHERE active = 0"),
        "subscriptions": one(
            "SELECT count(*) FROM subscriptions s JOIN chats c ON c.chat_id = s.chat_id "
            "AND c.active = 1"
        ),
        "last_error": one(
            "SELECT last_error FROM alerts WHERE last_error IS NOT NULL "
            "ORDER BY next_attempt DESC LIMIT 1"
        ),
    }
