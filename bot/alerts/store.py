"""All SQL of the alert feature: feeds, chats, subscriptions, the inbox and the outbox.

`AlertStore` wraps the corpus `Store`: the same connection, lock and transactions, so a
document and its inbox row are written together and the bot keeps one database file. Opening
one applies the alert migrations. Every method that writes more than one row does it in one
transaction; times come in as `dates.stamp` strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sectorbot.bot.alerts import migrations
from sectorbot.corpus.database_file import DatabaseFile
from sectorbot.corpus.health import Check
from sectorbot.corpus.store import Store
from sectorbot.corpus.text import one_line

FEED_COLUMNS = (
    "id", "url", "title", "added", "added_by", "etag", "last_modified", "last_polled",
    "last_ok", "last_error", "failures", "next_poll", "active",
)  # fmt: skip
CHAT_COLUMNS = (
    "chat_id", "type", "title", "active", "deactivated_reason", "deactivated_at",
    "digest_hours", "quiet_start", "quiet_end", "utc_offset", "last_sent", "created", "updated",
)  # fmt: skip
# Active chats only: a chat that cannot be reached has no subscriptions worth matching.
_ACTIVE_SUBS = "FROM subscriptions s JOIN chats c ON c.chat_id = s.chat_id AND c.active = 1"
_LEAVE_INBOX = "DELETE FROM alert_inbox WHERE document_id IN ({ids})"
# The EXISTS guards: a chat deactivated or a subscription removed while matching ran gets no
# row (ON CONFLICT covers only the unique key, not foreign keys).
_ENQUEUE = (
    "INSERT INTO alerts (chat_id, document_id, subscription_id, matched, excerpt, "
    "created, next_attempt) SELECT ?, ?, ?, ?, ?, ?, ? "
    "WHERE EXISTS (SELECT 1 FROM chats WHERE chat_id = ? AND active = 1) "
    "AND EXISTS (SELECT 1 FROM subscriptions WHERE id = ?) ON CONFLICT DO NOTHING"
)

Outcome = Literal["added", "existing", "over_limit"]


@dataclass(frozen=True)
class ChatRef:
    """The chat a command came from."""

    chat_id: int
    type: str  # private, group, supergroup, channel
    title: str | None = None


@dataclass(frozen=True)
class NewSubscription:
    """A subscription to store: what was typed, what matching uses, a topic's vector."""

    kind: str
    value: str
    normalized: str
    vector: bytes | None = None
    model: str | None = None


@dataclass(frozen=True)
class NewAlert:
    """An outbox row to queue for one chat and one document."""

    chat_id: int
    document_id: int
    subscription_id: int
    matched: str  # the matched subscriptions' labels, HTML-escaped
    excerpt: str


class AlertStore:
    """The alert tables of one corpus store."""

    def __init__(self, corpus: Store) -> None:
        self.corpus = corpus
        with corpus.lock:
            migrations.MIGRATIONS.apply(corpus.db)

    def _one(self, sql: str, params: Iterable[Any] = ()) -> int:
        return int(self.corpus.db.scalar(sql, params) or 0)

    def _dicts_in(
        self, sql: str, ids: Iterable[int], columns: Sequence[str]
    ) -> list[dict[str, Any]]:
        """`Database.rows_in`'s rows as dicts keyed by `columns` (the order of the SELECT)."""
        batches = self.corpus.db.rows_in(sql, ids)
        return [dict(zip(columns, row, strict=True)) for batch in batches for row in batch]

    # feeds ------------------------------------------------------------------------------

    def add_feed(self, url: str, added_by: str | None, when: str) -> tuple[int, bool]:
        """Add (or re-activate) a feed; its id and whether it is new or was inactive."""
        with self.corpus.transaction():
            db = self.corpus.db
            row = db.execute("SELECT id, active FROM feeds WHERE url = ?", [url]).fetchone()
            if row is not None:
                feed_id, active = int(row[0]), bool(row[1])
                if not active:
                    db.execute("UPDATE feeds SET active = 1 WHERE id = ?", [feed_id])
                return feed_id, not active
            new = db.execute(
                "INSERT INTO feeds (url, added, added_by, active) VALUES (?, ?, ?, 1) RETURNING id",
                [url, when, added_by],
            ).fetchone()
            return int(new[0]), True

    def list_feeds(self, include_inactive: bool = False) -> list[dict[str, Any]]:
        """The feeds in id order with their polling state: every listing of feeds reads this."""
        return self._feeds("" if include_inactive else "WHERE active = 1", "id")

    def due_feeds(self, when: str) -> list[dict[str, Any]]:
        """Active feeds whose next poll time has come, most overdue first."""
        where = "WHERE active = 1 AND (next_poll IS NULL OR next_poll <= ?)"
        return self._feeds(where, "coalesce(next_poll, ''), id", [when])

    def _feeds(self, where: str, order: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        columns = ", ".join(FEED_COLUMNS)
        return self.corpus.db.query(f"SELECT {columns} FROM feeds {where} ORDER BY {order}", params)

    def feed_urls(self) -> set[str]:
        """Every feed URL ever added, removed ones included."""
        return {row["url"] for row in self.corpus.db.query("SELECT url FROM feeds")}

    def update_feed(self, feed_id: int, values: dict[str, Any]) -> None:
        """Record a poll's outcome (column -> value)."""
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.corpus.transaction():
            self.corpus.db.execute(
                f"UPDATE feeds SET {sets} WHERE id = ?", [*values.values(), feed_id]
            )

    def remove_feed(self, feed_id: int) -> bool:
        """Deactivate a feed; False when there is no active feed with that id."""
        with self.corpus.transaction():
            cursor = self.corpus.db.execute(
                "UPDATE feeds SET active = 0 WHERE id = ? AND active = 1", [feed_id]
            )
        return cursor.rowcount > 0

    def counts(self) -> dict[str, int]:
        """The alert side's numbers for /about and stats."""
        return {"feeds": self._one("SELECT count(*) FROM feeds WHERE active = 1")}

    # documents --------------------------------------------------------------------------

    def documents(self, ids: Iterable[int]) -> list[dict[str, Any]]:
        """Id, title, source and publication date of these documents, in id order."""
        keys = ("id", "title", "source", "published")
        sql = f"SELECT {', '.join(keys)} FROM documents WHERE id IN ({{ids}})"
        return sorted(self._dicts_in(sql, ids, keys), key=lambda row: row["id"])

    def first_chunks(self, ids: Iterable[int]) -> dict[int, str]:
        """Document id -> the text of its first chunk."""
        sql = "SELECT document_id, text FROM chunks WHERE ordinal = 0 AND document_id IN ({ids})"
        return {r[0]: r[1] for batch in self.corpus.db.rows_in(sql, ids) for r in batch}

    def inbox(self, limit: int) -> list[dict[str, Any]]:
        """The oldest documents waiting to be matched (id, title, text, published)."""
        return self.corpus.db.query(
            "SELECT d.id, d.title, d.text, d.published FROM alert_inbox i "
            "JOIN documents d ON d.id = i.document_id ORDER BY i.document_id LIMIT ?",
            [limit],
        )

    def discard_inbox(self, ids: Iterable[int]) -> int:
        """Take documents out of the inbox without alerting; how many were there."""
        with self.corpus.transaction():
            return self.corpus.db.execute_in(_LEAVE_INBOX, ids)

    def queue_alerts(
        self, alerts: Sequence[NewAlert], document_ids: Sequence[int], when: str
    ) -> int:
        """Queue alerts and take their documents out of the inbox, in one transaction.

        Returns how many alerts are new: a chat already alerted about a document is not again.
        """
        queued = 0
        with self.corpus.transaction():
            for a in alerts:
                queued += self.corpus.db.execute(
                    _ENQUEUE,
                    [a.chat_id, a.document_id, a.subscription_id, a.matched, a.excerpt, when,
                     when, a.chat_id, a.subscription_id],
                ).rowcount  # fmt: skip
            self.corpus.db.execute_in(_LEAVE_INBOX, document_ids)
        return queued

    # chats and subscriptions ------------------------------------------------------------

    def _ensure_chat(self, chat: ChatRef, when: str) -> None:
        """Record the chat, or refresh its title; a command from it proves it is reachable."""
        self.corpus.db.execute(
            "INSERT INTO chats (chat_id, type, title, created, updated) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (chat_id) DO UPDATE SET type = excluded.type, title = excluded.title, "
            "active = 1, deactivated_reason = NULL, deactivated_at = NULL, "
            "updated = excluded.updated",
            [chat.chat_id, chat.type, chat.title, when, when],
        )

    def chat(self, chat_id: int) -> dict[str, Any]:
        """The chat's row (delivery preferences), or {} for an unknown chat."""
        return self.chats([chat_id]).get(chat_id, {})

    def chats(self, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Chat id -> row, for the chats of these ids that exist."""
        sql = f"SELECT {', '.join(CHAT_COLUMNS)} FROM chats WHERE chat_id IN ({{ids}})"
        return {row["chat_id"]: row for row in self._dicts_in(sql, ids, CHAT_COLUMNS)}

    def update_chat(self, chat: ChatRef, values: dict[str, Any], when: str) -> None:
        """Set a chat's delivery preferences (column -> value), recording the chat first."""
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.corpus.transaction():
            self._ensure_chat(chat, when)
            self.corpus.db.execute(
                f"UPDATE chats SET {sets}, updated = ? WHERE chat_id = ?",
                [*values.values(), when, chat.chat_id],
            )

    def subscription_count(self, chat_id: int) -> int:
        """How many subscriptions a chat has."""
        return self._one("SELECT count(*) FROM subscriptions WHERE chat_id = ?", [chat_id])

    def add_subscriptions(
        self, chat: ChatRef, new: Sequence[NewSubscription], user_id: int | None, limit: int,
        when: str,
    ) -> tuple[list[Outcome], int]:  # fmt: skip
        """Store new subscriptions while the chat has fewer than `limit`, in one transaction.

        Returns what became of each one, and how many the chat has now.
        """
        outcomes: list[Outcome] = []
        with self.corpus.transaction():
            self._ensure_chat(chat, when)
            total = self.subscription_count(chat.chat_id)
            for sub in new:
                if self._has_subscription(chat.chat_id, sub):
                    outcomes.append("existing")
                elif total >= limit:
                    outcomes.append("over_limit")
                else:
                    self._insert_subscription(chat.chat_id, sub, user_id, when)
                    outcomes.append("added")
                    total += 1
        return outcomes, total

    def _has_subscription(self, chat_id: int, sub: NewSubscription) -> bool:
        sql = "SELECT 1 FROM subscriptions WHERE chat_id = ? AND kind = ? AND normalized = ?"
        return bool(self.corpus.db.scalar(sql, [chat_id, sub.kind, sub.normalized]))

    def _insert_subscription(
        self, chat_id: int, sub: NewSubscription, user_id: int | None, when: str
    ) -> None:
        self.corpus.db.execute(
            "INSERT INTO subscriptions (chat_id, kind, value, normalized, vector, model, created, "
            "created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [chat_id, sub.kind, sub.value, sub.normalized, sub.vector, sub.model, when, user_id],
        )

    def subscriptions(self, chat_id: int) -> list[dict[str, Any]]:
        """The chat's subscriptions in the order /subscriptions numbers them."""
        return self.corpus.db.query(
            "SELECT id, chat_id, kind, value, normalized, created, created_by FROM subscriptions "
            "WHERE chat_id = ? ORDER BY id",
            [chat_id],
        )

    def subscribed_places(self, chat_id: int) -> list[str]:
        """The gazetteer ids of the places a chat follows."""
        rows = self.corpus.db.query(
            "SELECT normalized FROM subscriptions WHERE chat_id = ? AND kind = 'place' ORDER BY id",
            [chat_id],
        )
        return [r["normalized"] for r in rows]

    def remove_subscriptions(self, chat_id: int, ids: Iterable[int]) -> int:
        """Delete some of a chat's subscriptions; how many went."""
        with self.corpus.transaction():
            return self.corpus.db.execute_in(
                "DELETE FROM subscriptions WHERE chat_id = ? AND id IN ({ids})", ids, [chat_id]
            )

    def subscription_signature(self) -> tuple[int, int, int]:
        """Changes whenever the active subscriptions change: count, highest id, sum of ids."""
        row = self.corpus.db.query(
            "SELECT count(*) AS n, coalesce(max(s.id), 0) AS top, coalesce(sum(s.id), 0) AS "
            f"total {_ACTIVE_SUBS}"
        )[0]
        return int(row["n"]), int(row["top"]), int(row["total"])

    def active_subscriptions(self) -> list[dict[str, Any]]:
        """Every active chat's subscriptions, with topic vectors and their model."""
        return self.corpus.db.query(
            "SELECT s.id, s.chat_id, s.kind, s.value, s.normalized, s.vector, s.model "
            f"{_ACTIVE_SUBS} ORDER BY s.id"
        )

    def topic_vectors(self, ids: Iterable[int]) -> dict[int, bytes]:
        """Subscription id -> stored vector (float32 bytes)."""
        sql = "SELECT id, vector FROM subscriptions WHERE id IN ({ids})"
        return {r[0]: r[1] for batch in self.corpus.db.rows_in(sql, ids) for r in batch}

    def set_topic_vectors(self, vectors: Sequence[tuple[int, bytes, str]]) -> None:
        """Store (subscription id, vector bytes, model id) for topics embedded again."""
        with self.corpus.transaction():
            self.corpus.db.executemany(
                "UPDATE subscriptions SET vector = ?, model = ? WHERE id = ?",
                [(vector, model, sub_id) for sub_id, vector, model in vectors],
            )

    # the outbox -------------------------------------------------------------------------

    def due_alerts(self, when: str) -> list[dict[str, Any]]:
        """Pending alerts of active chats due by `when`, joined with their documents."""
        return self.corpus.db.query(
            "SELECT a.id, a.chat_id, a.document_id, a.matched, a.excerpt, a.attempts, d.title, "
            "d.source, d.published, d.url FROM alerts a "
            "JOIN documents d ON d.id = a.document_id "
            "JOIN chats c ON c.chat_id = a.chat_id AND c.active = 1 "
            "WHERE a.status = 'pending' AND a.next_attempt <= ? ORDER BY a.chat_id, a.id",
            [when],
        )

    def take_due(self, ids: Iterable[int], until: str, when: str) -> list[int]:
        """Take pending alerts due by `when` for sending: not due again before `until`.

        Call it inside a transaction (the sender's fence): of two senders, only the first to
        take an alert sends it; one that dies before recording the send leaves it due again
        at `until`. Returns the ids taken.
        """
        sql = (
            "UPDATE alerts SET next_attempt = ? WHERE status = 'pending' AND next_attempt <= ? "
            "AND id IN ({ids}) RETURNING id"
        )
        return [r[0] for batch in self.corpus.db.rows_in(sql, ids, [until, when]) for r in batch]

    def postpone(self, ids: Iterable[int], until: str) -> None:
        """Hold pending alerts back until `until` without counting an attempt."""
        with self.corpus.transaction():
            self.corpus.db.execute_in(
                "UPDATE alerts SET next_attempt = ? WHERE id IN ({ids}) AND status = 'pending'",
                ids,
                [until],
            )

    def mark_sent(self, chat_id: int, ids: Iterable[int], message_id: int, when: str) -> None:
        """Record that Telegram accepted the message carrying these alerts."""
        with self.corpus.transaction():
            self.corpus.db.execute_in(
                "UPDATE alerts SET status = 'sent', sent_at = ?, message_id = ?, "
                "attempts = attempts + 1, last_error = NULL WHERE id IN ({ids})",
                ids,
                [when, message_id],
            )
            self.corpus.db.execute(
                "UPDATE chats SET last_sent = ? WHERE chat_id = ?", [when, chat_id]
            )

    def retry_later(self, ids: Iterable[int], when: str, reason: str) -> None:
        """Count a failed attempt at pending alerts and set their next one."""
        with self.corpus.transaction():
            self.corpus.db.execute_in(
                "UPDATE alerts SET attempts = attempts + 1, next_attempt = ?, last_error = ? "
                "WHERE id IN ({ids}) AND status = 'pending'",
                ids,
                [when, reason],
            )

    def give_up(self, ids: Iterable[int], reason: str) -> int:
        """Mark pending alerts dead; how many were."""
        with self.corpus.transaction():
            return self.corpus.db.execute_in(
                "UPDATE alerts SET status = 'dead', attempts = attempts + 1, last_error = ? "
                "WHERE id IN ({ids}) AND status = 'pending'",
                ids,
                [reason],
            )

    def deactivate_chat(self, chat_id: int, reason: str, when: str) -> int:
        """Stop alerting a chat; its pending alerts die. Returns how many did."""
        with self.corpus.transaction():
            self.corpus.db.execute(
                "UPDATE chats SET active = 0, deactivated_reason = ?, deactivated_at = ?, "
                "updated = ? WHERE chat_id = ?",
                [reason, when, when, chat_id],
            )
            cursor = self.corpus.db.execute(
                "UPDATE alerts SET status = 'dead', last_error = ? "
                "WHERE chat_id = ? AND status = 'pending'",
                [reason, chat_id],
            )
        return cursor.rowcount

    def move_chat(self, old_id: int, new_id: int) -> bool:
        """Give a chat a new id (its subscriptions and alerts follow); False if that id exists."""
        try:
            with self.corpus.transaction():
                self.corpus.db.execute(
                    "UPDATE chats SET chat_id = ? WHERE chat_id = ?", [new_id, old_id]
                )
        except self.corpus.db.integrity_errors:
            return False
        return True

    def outbox_numbers(self, when: str, day_ago: str) -> dict[str, Any]:
        """The queue, what was sent since `day_ago`, the chats, the last send error."""
        one = self.corpus.db.scalar
        return {
            "pending": one("SELECT count(*) FROM alerts WHERE status = 'pending'"),
            "due": one(
                "SELECT count(*) FROM alerts WHERE status = 'pending' AND next_attempt <= ?",
                [when],
            ),
            "retrying": one(
                "SELECT count(*) FROM alerts WHERE status = 'pending' AND attempts > 0"
            ),
            "sent_24h": one(
                "SELECT count(*) FROM alerts WHERE status = 'sent' AND sent_at >= ?", [day_ago]
            ),
            "dead": one("SELECT count(*) FROM alerts WHERE status = 'dead'"),
            "inbox": one("SELECT count(*) FROM alert_inbox"),
            "chats": one("SELECT count(*) FROM chats WHERE active = 1"),
            "inactive_chats": one("SELECT count(*) FROM chats WHERE active = 0"),
            "subscriptions": one(f"SELECT count(*) {_ACTIVE_SUBS}"),
            "last_error": one(
                "SELECT last_error FROM alerts WHERE last_error IS NOT NULL "
                "ORDER BY next_attempt DESC LIMIT 1"
            ),
        }

    def health(self, when: str, day_ago: str) -> list[Check]:
        """The "outbox" check: alerts waiting, failing or given up, and who is followed."""
        n = self.outbox_numbers(when, day_ago)
        detail = (
            f"{n['pending']} pending ({n['due']} due), {n['sent_24h']} sent in 24 h, "
            f"{n['dead']} given up; {n['subscriptions']} subscriptions in {n['chats']} chats"
        )
        if n["retrying"]:
            # Sends failing right now (Telegram unreachable, a chat gone): worth a look.
            return [Check("outbox", "WARN", f"{detail}; {n['retrying']} retrying, last error: "
                           f"{one_line(str(n['last_error']))}")]  # fmt: skip
        return [Check("outbox", "OK", detail)]


def active_feed_validators(db: DatabaseFile) -> list[tuple[str, str | None, str | None]]:
    """(url, etag, last_modified) of the feeds followed, read without migrating (doctor)."""
    sql = "SELECT url, etag, last_modified FROM feeds WHERE active = 1 ORDER BY id"
    with db.connect() as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute(sql).fetchall()]
