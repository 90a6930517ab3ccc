"""Sending due alerts, and what a failed send means for the alerts and the chat.

A chat's due alerts go out as one digest (in parts when long) through a `Transport`; each
part's alerts are marked sent only after the transport accepted it, and the first failure
stops that chat's round. The transport sorts errors into: retry later, the chat is gone
(deactivate it), the group became a supergroup (move it), or anything else (retry, then give
up).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sectorbot.bot.alerts import outbox
from sectorbot.bot.alerts.digest import render_digest
from sectorbot.bot.alerts.outbox import PendingAlert
from sectorbot.bot.alerts.store import AlertStore
from sectorbot.bot.i18n import DEFAULT, language
from sectorbot.corpus.dates import stamp

log = logging.getLogger(__name__)

RETRY_BASE = 30.0  # seconds before the first retry; doubles with each attempt
RETRY_MAX = 3600.0
# How long a sender keeps the alerts it took: far longer than a round of sending takes, so no
# other sender takes them while it works; a sender that died leaves them due after this.
TAKE_SECONDS = 120.0
MAX_FAILED_ATTEMPTS = 8  # only for errors that are neither transient nor about the chat
SEND_CONCURRENCY = 8


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


class Transport(Protocol):
    """How a digest part reaches a chat. The Telegram front end implements it
    (`sectorbot.bot.telegram.alert_transport`); the alerts package never imports Telegram."""

    async def deliver(self, chat_id: int, html: str, *, previews: bool) -> int:
        """Send one message of Telegram HTML; its message id. Raises what the API raised."""
        ...

    def classify(self, exc: BaseException) -> Failure:
        """What a failed `deliver` means for the alerts and the chat."""
        ...


class Sender:
    """Sends due alerts, one digest per chat per round; safe to run again after a crash."""

    def __init__(
        self,
        store: AlertStore,
        retry_base: float = RETRY_BASE,
        retry_max: float = RETRY_MAX,
        concurrency: int = SEND_CONCURRENCY,
        language_of: Callable[[int], str | None] | None = None,
        fence: Callable[[], AbstractContextManager[None]] | None = None,
        take_seconds: float = TAKE_SECONDS,
        notes_for: Callable[[int, str], list[str]] | None = None,
    ) -> None:
        self.store = store
        # Lines that end a chat's digest in its language: the latest daily counts of the
        # directions it follows (`Service.chat_trend_lines`).
        self.notes_for = notes_for
        # The transaction the due alerts are taken in: the job lease's fence when several
        # processes could send (it raises when the lease moved), else a plain one.
        self.fence = fence or store.corpus.transaction
        self.take_seconds = take_seconds
        # The language a chat chose with /language; alerts are framed in it (default English).
        self.language_of = language_of
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.concurrency = concurrency
        self._lock = asyncio.Lock()

    async def send_due(self, transport: Transport, now: float | None = None) -> SendReport:
        """Send every chat's due alerts; concurrent calls wait for each other."""
        report = SendReport()
        async with self._lock:
            now = time.time() if now is None else now
            due = self._take(outbox.due(self.store, now), now)
            if not due:
                return report
            chats = self.store.chats(due)
            gate = asyncio.Semaphore(self.concurrency)

            async def one(chat_id: int) -> None:
                async with gate:
                    await self._send_chat(transport, chats[chat_id], due[chat_id], now, report)

            await asyncio.gather(*(one(c) for c in due if c in chats))
        return report

    def _take(
        self, due: dict[int, list[PendingAlert]], now: float
    ) -> dict[int, list[PendingAlert]]:
        """The due alerts this sender took (in the fence's transaction), by chat."""
        if not due:
            return due
        ids = [a.id for alerts in due.values() for a in alerts]
        with self.fence():
            taken = set(self.store.take_due(ids, stamp(now + self.take_seconds), stamp(now)))
        kept = {chat: [a for a in alerts if a.id in taken] for chat, alerts in due.items()}
        return {chat: alerts for chat, alerts in kept.items() if alerts}

    async def _send_chat(
        self,
        transport: Transport,
        chat: dict[str, Any],
        alerts: list[PendingAlert],
        now: float,
        report: SendReport,
    ) -> None:
        """Send one chat's due alerts, part by part; stop at the first failure."""
        ready = outbox.ready_at(chat, now)
        if ready > now:  # held back, not failed: wake up when the chat may be written to
            self.store.postpone([a.id for a in alerts], stamp(ready))
            report.skipped_chats += 1
            return
        chosen = self.language_of(chat["chat_id"]) if self.language_of else None
        with language(chosen or DEFAULT):
            messages = render_digest(alerts, notes=self._notes(chat["chat_id"], chosen))
        for n, (text, ids) in enumerate(messages):
            try:
                # One alert shows its link's preview; a digest of several would show only
                # the first link's, which misleads.
                message_id = await transport.deliver(
                    chat["chat_id"], text, previews=len(alerts) == 1
                )
            except Exception as exc:
                rest = [i for _, part in messages[n:] for i in part]
                failure = transport.classify(exc)
                self._failed(chat["chat_id"], rest, alerts, failure, now, report)
                return
            self.store.mark_sent(chat["chat_id"], ids, message_id, stamp(now))
            report.messages += 1
            report.alerts += len(ids)

    def _notes(self, chat_id: int, chosen: str | None) -> list[str]:
        """The lines that end a chat's digest; none when they cannot be read (the alerts
        still go)."""
        if self.notes_for is None:
            return []
        try:
            return self.notes_for(chat_id, chosen or DEFAULT)
        except Exception as exc:
            log.warning("no daily counts for chat %s's digest: %s", chat_id, exc)
            return []

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
            self.store.postpone(ids, stamp(now))  # due again at once, under the new id
            return
        attempts = max((a.attempts for a in alerts if a.id in set(ids)), default=0) + 1
        if failure.action == "failed" and attempts >= MAX_FAILED_ATTEMPTS:
            log.error(
                "giving up on alerts %s after %d attempts: %s",
                ids, MAX_FAILED_ATTEMPTS, failure.reason,
            )  # fmt: skip
            report.dead += self.store.give_up(ids, failure.reason)
            return
        delay = max(failure.delay, min(self.retry_base * 2 ** (attempts - 1), self.retry_max))
        log.info("alerts for chat %s retry in %.1f s: %s", chat_id, delay, failure.reason)
        self.store.retry_later(ids, stamp(now + delay), failure.reason)
        report.retried += len(ids)


def deactivate_chat(store: AlertStore, chat_id: int, reason: str, now: float | None = None) -> int:
    """Stop alerting a chat that cannot be reached; its pending alerts die. Returns how many."""
    return store.deactivate_chat(chat_id, reason, stamp(now))


def migrate_chat(store: AlertStore, old_id: int, new_id: int, now: float | None = None) -> None:
    """A group became a supergroup: move its subscriptions and alerts to the new id."""
    if not store.move_chat(old_id, new_id):  # the supergroup already has its own row: keep it
        deactivate_chat(store, old_id, f"migrated to supergroup {new_id}", now)
