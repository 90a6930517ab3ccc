"""The workers' health: who holds the job lease, and each live process with its index lag."""

from __future__ import annotations

import time
from typing import Any

from sectorbot.bot.workers.lease import JOBS
from sectorbot.bot.workers.store import read_lease, read_workers
from sectorbot.corpus.database import Database
from sectorbot.corpus.dates import stamp
from sectorbot.corpus.health import Check

LIVE_TICKS = 3  # a process silent for this many poll ticks is not counted as live


def health(db: Database, poll_tick: float) -> list[Check]:
    """The "workers" check, read from the shared tables without opening a `WorkerStore`."""
    now = time.time()
    lease = read_lease(db, JOBS)
    live = read_workers(db, stamp(now - LIVE_TICKS * poll_tick))
    held = lease is not None and lease["expires"] > stamp(now)
    if held:
        assert lease is not None
        lease_text = f"job lease held by {lease['holder']} until {lease['expires'][11:19]} UTC"
    else:
        lease_text = "job lease free"
    workers = [_worker_line(w) for w in live]
    text = f"{lease_text}; " + (
        f"{len(workers)} live: " + "; ".join(workers) if workers else "no live workers"
    )
    if live and not held:
        warning = " (nobody polls feeds or sends alerts: start `sectorbot worker`)"
        return [Check("workers", "WARN", text + warning)]
    return [Check("workers", "OK", text)]


def _worker_line(worker: dict[str, Any]) -> str:
    lag = int(worker["stored_now"]) - int(worker["index_passages"] or 0)
    return (
        f"{worker['role']} {worker['holder']} seen {worker['last_seen'][11:19]} UTC, index "
        f"{worker['index_passages']} of {worker['stored_now']} passages (lag {lag})"
    )
