"""What the Telegram handlers share, kept in one typed object in the application: the
service, the alerts runtime, this process, recent answers, the rate limiter and the reindex
in progress; and the `Context` type every handler and job takes.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot, JobQueue

from sectorbot.bot.i18n import _
from sectorbot.index.answer import Answer

if TYPE_CHECKING:
    from sectorbot.bot.alerts.runtime import AlertsRuntime
    from sectorbot.bot.service import Service
    from sectorbot.bot.settings import Settings
    from sectorbot.bot.telegram.workers import Process
    from sectorbot.bot.workers.jobs import Jobs
    from sectorbot.bot.workers.ratelimit import StoredLimiter

ANSWER_CACHE_SIZE = 500
FAILED_KEPT = 256
PROGRESS_EVERY = 2.0  # seconds between edits of the reindex status message


class AnswerCache:
    """Recent answers by a short random id, so "Sources"/"More" buttons can find them.

    Bounded (least recently used goes first), and in memory only: after a restart old
    buttons find nothing and say so. Random ids, not a counter, so that a button from
    before a restart can never point at someone else's newer answer.
    """

    def __init__(self, size: int = ANSWER_CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, Answer] = OrderedDict()

    def put(self, answer: Answer, key: str | None = None) -> str:
        """Keep an answer under `key` (the feedback store's, when it has one) or a new one."""
        while key is None or (key in self._items and self._items[key] is not answer):
            key = secrets.token_urlsafe(6)
        self._items[key] = answer
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return key

    def get(self, key: str) -> Answer | None:
        answer = self._items.get(key)
        if answer is not None:
            self._items.move_to_end(key)
        return answer

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class ReindexJob:
    """The one reindex that may run at a time, and how far it has got."""

    full: bool
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    total: int = 0

    def progress(self, done: int, total: int) -> None:
        """Called from the worker thread; plain int stores, read by the event loop."""
        self.done, self.total = done, total

    def describe(self) -> str:
        """Where the reindex is, in the language of whoever started it."""
        elapsed = f"{time.monotonic() - self.started:.0f}"
        step = (
            _("{done}/{total} passages embedded").format(done=self.done, total=self.total)
            if self.total
            else _("preparing")
        )
        text = (
            _("Reindexing (full rebuild)… {step}, {elapsed} s so far.")
            if self.full
            else _("Reindexing… {step}, {elapsed} s so far.")
        )
        return text.format(step=step, elapsed=elapsed)


@dataclass
class BotData:
    """What every handler and job of one Application shares: PTB's `bot_data`, typed.

    PTB makes it with no arguments when the Application is built (`CONTEXT_TYPES`); the
    builders in `bot.telegram.app` then fill in the fields without defaults, before any
    handler or job runs.
    """

    service: Service = field(init=False)
    settings: Settings = field(init=False)
    # This process as the other workers see it: its name, job lease and heartbeat.
    process: Process = field(init=False)
    alerts: AlertsRuntime = field(init=False)
    limiter: StoredLimiter = field(init=False)
    # The job rounds, in a process that runs them (None: a `sectorbot worker` does).
    jobs: Jobs | None = None
    answers: AnswerCache = field(default_factory=AnswerCache)
    reindex: ReindexJob | None = None
    progress_every: float = PROGRESS_EVERY
    started: float = field(default_factory=time.monotonic)
    # Chat id -> the language it chose with /language (None: each user's own), as read.
    chat_languages: dict[int, str | None] = field(default_factory=dict)
    # Updates whose failure the error handler already reported: a handler group after the
    # one that failed may fail the same way (the database is down), and one line and one
    # apology per update are enough.
    failed_updates: deque[int] = field(default_factory=lambda: deque(maxlen=FAILED_KEPT))


class Context(CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], BotData]):
    """The `context` every handler and job gets: `context.bot_data` is the `BotData`."""

    __slots__ = ()


# PTB types the job queue for the default context whatever the context types say: Any.
App = Application[ExtBot[Any], Context, dict[Any, Any], dict[Any, Any], BotData, JobQueue[Any]]
CONTEXT_TYPES = ContextTypes(context=Context, bot_data=BotData)


def is_admin(update: Update, context: Context) -> bool:
    """Whether the update comes from one of the bot's administrators."""
    user = update.effective_user
    return user is not None and user.id in context.bot_data.settings.admin_ids
