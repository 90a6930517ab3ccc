"""The alerts runtime: every alert operation a front end needs, over one `Service`.

The Telegram adapter, the CLI and the jobs call this and nothing else of the alerts package:
no store, no SQL. It knows nothing of Telegram either; `send_once` takes the transport to
send with. Blocking work (the poll) runs in a worker thread when called from the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sectorbot.bot.alerts import outbox, poller, subscriptions
from sectorbot.bot.alerts.match import Matcher
from sectorbot.bot.alerts.poller import Poller, PollReport
from sectorbot.bot.alerts.send import RETRY_BASE, Sender, SendReport, Transport
from sectorbot.bot.alerts.store import AlertStore, ChatRef
from sectorbot.bot.alerts.subscriptions import SubscribeResult

if TYPE_CHECKING:
    from sectorbot.bot.service import Service
    from sectorbot.bot.settings import Settings


@dataclass(frozen=True)
class AlertStatus:
    """What /alertstatus shows: the active feeds and the outbox's numbers."""

    feeds: list[dict[str, Any]]
    outbox: dict[str, Any]


@dataclass
class AlertsRuntime:
    """The pieces the handlers, commands and jobs share, and the operations on them."""

    service: Service
    settings: Settings
    store: AlertStore
    matcher: Matcher
    poller: Poller
    sender: Sender

    @classmethod
    def open(
        cls,
        service: Service,
        settings: Settings,
        *,
        retry_base: float | None = None,
        fence: Callable[[], AbstractContextManager[None]] | None = None,
    ) -> AlertsRuntime:
        """The runtime over the service's store; creates or upgrades the alert tables.

        `retry_base` (seconds before a failed send is tried again) defaults to `RETRY_BASE`;
        `fence` is the transaction due alerts are taken in (the job lease's, see `Sender`).
        """
        store = service.alert_store  # opened (and migrated) with the service
        matcher = Matcher(store, service.embedder, language_of=service.chat_language)
        poll = Poller(service, store, matcher)
        sender = Sender(
            store,
            RETRY_BASE if retry_base is None else retry_base,
            language_of=service.chat_language,
            fence=fence,
            notes_for=service.chat_trend_lines,
        )
        return cls(service, settings, store, matcher, poll, sender)

    # subscriptions ----------------------------------------------------------------------

    def needs_member_check(self, chat: ChatRef, user_id: int | None) -> bool:
        """Whether `may_manage` needs the user's status in the chat (a getChatMember call)."""
        return subscriptions.needs_member_check(chat.type, user_id, self.settings.admin_ids)

    def may_manage(self, chat: ChatRef, user_id: int | None, member_status: str | None) -> bool:
        """Whether this user may change the chat's subscriptions (bot admins always may)."""
        return subscriptions.may_manage(chat.type, user_id, member_status, self.settings.admin_ids)

    def subscribe(self, chat: ChatRef, user_id: int | None, text: str) -> SubscribeResult:
        """Add the items of one /subscribe; `result.message()` is the reply (usage if none)."""
        return subscriptions.subscribe(self.store, self.service.embedder, chat, user_id, text)

    def list_subscriptions(self, chat_id: int) -> str:
        """The /subscriptions reply, as Telegram HTML."""
        return subscriptions.format_list(self.store, chat_id)

    def unsubscribe(self, chat_id: int, arg: str) -> str:
        """Remove subscriptions by number, by name or all; the reply."""
        return subscriptions.unsubscribe(self.store, chat_id, arg)

    def set_digest(self, chat: ChatRef, arg: str) -> str:
        """`/digest N` or `/digest off`; the reply."""
        return subscriptions.set_digest(self.store, chat, arg)

    def set_quiet(self, chat: ChatRef, arg: str) -> str:
        """`/quiet 23-7 [+2]` or `/quiet off`; the reply."""
        return subscriptions.set_quiet(self.store, chat, arg)

    # feeds ------------------------------------------------------------------------------

    def add_feed(self, url: str, added_by: str | None) -> tuple[int, bool]:
        """Follow a feed; its id and whether it is new. FeedError for a bad URL."""
        return poller.add_feed(self.store, url, added_by)

    def list_feeds(self, include_inactive: bool = False) -> list[dict[str, Any]]:
        """The feeds with their polling state, in id order (active ones unless asked)."""
        return self.store.list_feeds(include_inactive)

    def remove_feed(self, feed_id: int) -> bool:
        """Stop following a feed; False when no active feed has that id."""
        return self.store.remove_feed(feed_id)

    def status(self, now: float | None = None) -> AlertStatus:
        """The numbers /alertstatus shows."""
        now = time.time() if now is None else now
        return AlertStatus(self.list_feeds(), outbox.status(self.store, now))

    def counts(self) -> dict[str, int]:
        """The alert side's numbers for /about and stats (feeds followed)."""
        return self.store.counts()

    def documents(self, ids: Iterable[int]) -> list[dict[str, Any]]:
        """Id, title, source and publication date of documents, in id order."""
        return self.store.documents(ids)

    # polling and sending ----------------------------------------------------------------

    def poll(self, force: bool = False) -> PollReport | None:
        """Poll the due (or all) feeds now, blocking; None if a poll was already running."""
        return self.poller.poll(None, force)

    async def poll_once(self, force: bool = False) -> PollReport | None:
        """Poll the due feeds in a worker thread; None if a poll was already running."""
        return await asyncio.to_thread(self.poll, force)

    async def send_once(self, transport: Transport) -> SendReport:
        """Send every due alert now."""
        return await self.sender.send_due(transport)
