"""Each process's row in `workers`: what it does, and how far its search index is behind.

Every process (webhook worker, job worker, the polling bot) beats once per poll tick, taking
in first what other processes stored and embedded (`Service.sync_index`). The row carries how
many passages its vector index holds and how many the store held at that moment, so `doctor`
can show each live worker's index lag. A beat also clears out what has aged: update claims
after a day, rate-limit events after an hour, silent workers after a day.
"""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING

from sectorbot.corpus.dates import stamp

if TYPE_CHECKING:
    from sectorbot.bot.service import Service
    from sectorbot.bot.workers.store import WorkerStore

KEEP_UPDATES = 86400.0  # Telegram retries an update for a few hours at most
KEEP_EVENTS = 3600.0  # far longer than any rate-limit window
KEEP_WORKERS = 86400.0


class Heartbeat:
    """The beats of one process under one holder name (`Service.heartbeat` makes one)."""

    def __init__(self, service: Service, workers: WorkerStore, holder: str, role: str) -> None:
        self.service = service
        self.workers = workers
        self.holder = holder
        self.role = role
        self.started = stamp()

    def beat(self, now: float | None = None) -> None:
        """Record that this process is alive, with its index size; prune what has aged."""
        now = time.time() if now is None else now
        self.service.sync_index()  # an idle worker follows the store too, not only on questions
        workers = self.workers
        workers.heartbeat(
            {
                "holder": self.holder,
                "role": self.role,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started": self.started,
                "last_seen": stamp(now),
                "index_passages": self.service.index_passages(),
                "store_passages": self.service.passages_in_store(),
            }
        )
        workers.prune(stamp(now - KEEP_UPDATES), stamp(now - KEEP_EVENTS),
                      stamp(now - KEEP_WORKERS))  # fmt: skip

    def stop(self) -> None:
        """A clean stop: the row goes (a killed process's row ages out instead)."""
        self.workers.forget_worker(self.holder)
