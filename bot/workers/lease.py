"""The job lease: which one process polls feeds, sends alerts and keeps the index in step.

A lease is a row (`worker_leases`): its holder, when it was taken, the last renewal and when
it expires. A process takes it when it is free or expired and renews it every send tick; the
time to live is about one poll tick, so a holder killed without a word (SIGKILL, a lost host)
is replaced within a poll interval, and a clean stop gives it up at once.

Holding the lease is not enough to send: a holder that stalled past its expiry may not know
yet that another took over. `fenced()` is the check that counts — a write transaction that
renews the lease (or takes it, when free) and fails when another process holds it; inside it
the sender takes the alerts it is about to send, so two processes never take the same alert.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sectorbot.bot.errors import SectorbotError
from sectorbot.bot.workers.store import WorkerStore

log = logging.getLogger(__name__)

JOBS = "jobs"
MIN_TICKS = 3  # a lease lives at least this many renewals, so one late tick does not lose it


class LeaseLost(SectorbotError):
    """This process no longer holds the job lease: another one runs the jobs now."""


def new_holder() -> str:
    """A name for a lease holder: host, process id, and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def lease_ttl(poll_tick: float, send_tick: float) -> float:
    """How long a lease lives unrenewed: about one poll tick, and several renewals."""
    return max(poll_tick, MIN_TICKS * send_tick)


class Lease:
    """One process's claim on a named lease."""

    def __init__(
        self,
        store: WorkerStore,
        holder: str,
        ttl: float,
        name: str = JOBS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.holder = holder
        self.ttl = ttl
        self.name = name
        self.clock = clock
        self.held = False

    def hold(self) -> bool:
        """Take the lease if it is free or expired, or renew it; whether this process holds it."""
        held = self.store.acquire_lease(self.name, self.holder, self.clock(), self.ttl)
        if held != self.held:
            log.info("%s lease %s by %s", self.name, "taken" if held else "lost", self.holder)
        self.held = held
        return held

    def release(self) -> None:
        """Give the lease up now, so another process takes over without waiting."""
        if self.store.release_lease(self.name, self.holder, self.clock()):
            log.info("%s lease released by %s", self.name, self.holder)
        self.held = False

    @contextmanager
    def fenced(self) -> Iterator[None]:
        """A write transaction that runs only while this process holds the lease.

        The lease is renewed (or taken, when it is free) inside the transaction; LeaseLost
        (remembered in `held`) when another process holds it.
        """
        with self.store.corpus.transaction():
            if not self.store.take_lease(self.name, self.holder, self.clock(), self.ttl):
                if self.held:
                    log.warning("%s lease lost by %s", self.name, self.holder)
                self.held = False
                raise LeaseLost(f"the {self.name} lease is held by another process")
            if not self.held:
                log.info("%s lease taken by %s", self.name, self.holder)
            self.held = True
            yield
