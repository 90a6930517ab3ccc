"""A per-user sliding-window limit on questions, with one notice per window for the over-eager.

Each question costs a model run, so one chat must not be able to keep the bot busy for
everyone else. A user over the limit is told once, then ignored until the window lets them
ask again: silence would look like a broken bot, and a notice per message would itself be
the flood we are trying to stop.

The window lives in the database (`WorkerStore`), so the limit holds across every webhook
worker that serves the bot, and across a restart; on SQLite it is the same code.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sectorbot.bot.workers.store import WorkerStore


class Verdict(enum.Enum):
    ALLOW = "allow"
    NOTIFY = "notify"  # over the limit: tell the user, once
    SILENT = "silent"  # over the limit and already told


class StoredLimiter:
    """At most `limit` events per `window` seconds for each key, counted in the database.

    `clock` is wall-clock time (processes on several hosts compare it), not monotonic.
    """

    def __init__(
        self,
        store: WorkerStore,
        limit: int,
        window: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit <= 0 or window <= 0:
            raise ValueError("limit and window must be positive")
        self.store = store
        self.limit = limit
        self.window = window
        self.clock = clock

    def check(self, key: Hashable) -> Verdict:
        """Count one event for `key` if it is allowed; say what to do when it is not."""
        return self.store.rate_check(str(key), self.limit, self.window, self.clock())

    def retry_after(self, key: Hashable) -> float:
        """Seconds until `key` may ask again (0 when it may now)."""
        return self.store.rate_retry_after(str(key), self.limit, self.window, self.clock())
