"""A per-user sliding-window limit on questions, with one notice per window for the over-eager.

Each question costs a model run, so one chat must not be able to keep the bot busy for
everyone else. A user over the limit is told once, then ignored until the window lets them
ask again: silence would look like a broken bot, and a notice per message would itself be
the flood we are trying to stop.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable, Hashable

# Past this many tracked users, idle ones are forgotten on the next check (bounds memory).
PRUNE_ABOVE = 10_000


class Verdict(enum.Enum):
    ALLOW = "allow"
    NOTIFY = "notify"  # over the limit: tell the user, once
    SILENT = "silent"  # over the limit and already told


class SlidingWindowLimiter:
    """At most `limit` events per `window` seconds for each key."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit <= 0 or window <= 0:
            raise ValueError("limit and window must be positive")
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[Hashable, deque[float]] = {}
        self._told_until: dict[Hashable, float] = {}

    def check(self, key: Hashable) -> Verdict:
        """Count one event for `key` if it is allowed; say what to do when it is not."""
        now = self.clock()
        if len(self._events) > PRUNE_ABOVE:
            self._prune(now)
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) < self.limit:
            events.append(now)
            self._told_until.pop(key, None)
            return Verdict.ALLOW
        if self._told_until.get(key, 0.0) > now:
            return Verdict.SILENT
        # One notice until the oldest counted event leaves the window.
        self._told_until[key] = events[0] + self.window
        return Verdict.NOTIFY

    def retry_after(self, key: Hashable) -> float:
        """Seconds until `key` may ask again (0 when it may now)."""
        events = self._events.get(key)
        if not events or len(events) < self.limit:
            return 0.0
        return max(0.0, events[0] + self.window - self.clock())

    def _prune(self, now: float) -> None:
        idle = [k for k, ev in self._events.items() if not ev or ev[-1] <= now - self.window]
        for key in idle:
            del self._events[key]
            self._told_until.pop(key, None)
