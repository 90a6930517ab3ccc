"""The outbox: queueing alerts, when a chat may be written to, and the queue's numbers.

An alert row is queued once per (chat, document) and stays `pending` until Telegram accepted
the message carrying it (see docs/alerts.md, "Exactly-once delivery"). A chat in quiet hours
or between two digests is not failing: its alerts wait, with `next_attempt` moved to the time
it may be written to again, so the sender does not look at them until then.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sectorbot.bot.alerts.store import AlertStore, NewAlert
from sectorbot.corpus.dates import parse_stamp, stamp


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


def queue(
    store: AlertStore, alerts: Sequence[NewAlert], document_ids: Sequence[int], now: float
) -> int:
    """Queue alerts, due at once, and take their documents out of the inbox; how many are new."""
    return store.queue_alerts(alerts, document_ids, stamp(now))


def due(store: AlertStore, now: float) -> dict[int, list[PendingAlert]]:
    """Pending alerts whose time has come, by chat (active chats only)."""
    by_chat: dict[int, list[PendingAlert]] = defaultdict(list)
    for row in store.due_alerts(stamp(now)):
        by_chat[row["chat_id"]].append(PendingAlert(**row))
    return dict(by_chat)


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


def status(store: AlertStore, now: float | None = None) -> dict[str, Any]:
    """Numbers for /alertstatus: the queue, what was sent in the last 24 h, the chats."""
    now = time.time() if now is None else now
    return store.outbox_numbers(stamp(now), stamp(now - 86400))
