"""What the Telegram handlers share: the service, recent answers, the rate limiter and the
reindex in progress, kept in one typed object in the application.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from telegram import Update
from telegram.ext import Application, ContextTypes

from sectorbot.bot.i18n import _
from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings
from sectorbot.bot.workers.ratelimit import StoredLimiter
from sectorbot.index.answer import Answer

STATE_KEY = "sectorbot"
ANSWER_CACHE_SIZE = 500
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
class BotState:
    service: Service
    settings: Settings
    answers: AnswerCache
    limiter: StoredLimiter
    job: ReindexJob | None = None
    progress_every: float = PROGRESS_EVERY
    started: float = field(default_factory=time.monotonic)
    # The command menus and /help: (name, what it does), filled by build_application.
    public_commands: list[tuple[str, str]] = field(default_factory=list)
    admin_commands: list[tuple[str, str]] = field(default_factory=list)
    # Chat id -> the language it chose with /language (None: each user's own), as read.
    chat_languages: dict[int, str | None] = field(default_factory=dict)


def state_of(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    """The bot's state, which `build_application` put in the application."""
    return app_state(context.application)


def app_state(app: Application) -> BotState:
    state = app.bot_data.get(STATE_KEY)
    if not isinstance(state, BotState):
        raise RuntimeError("no bot state: build the application with build_application()")
    return state


def is_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    user = update.effective_user
    return user is not None and user.id in state_of(context).settings.admin_ids
