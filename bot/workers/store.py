"""All SQL of the worker tables: handled updates, rate-limit events, the job lease, heartbeats.

`WorkerStore` wraps the corpus `Store` (one connection or pool, the same transactions) and
applies the worker migrations when it opens. Times are `dates.stamp` strings, compared as
text; every process computes them from its own clock, so hosts that share a database keep
their clocks in step (NTP) — a lease or a window is off by the skew, nothing worse.

On PostgreSQL the read-then-write sequences here hold an advisory lock till they commit, so
they behave across processes as they do inside one SQLite file: the lease under the store's
one lock (it fences what the holder writes), a rate window under its key's own lock. Single
statements (an update claim, a heartbeat) take none: each is atomic on its own.
"""

from __future__ import annotations

from typing import Any

from sectorbot.bot.workers import migrations
from sectorbot.bot.workers.ratelimit import Verdict
from sectorbot.corpus.database import Database
from sectorbot.corpus.dates import parse_stamp, stamp
from sectorbot.corpus.store import Store

_CLAIM = (
    "INSERT INTO handled_updates (update_id, holder, claimed, body) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (update_id) DO NOTHING RETURNING update_id"
)
# Updates acknowledged and never handled whose holder stopped beating: this holder's now.
_TAKE_OVER = (
    "UPDATE handled_updates SET holder = ?, claimed = ? "
    "WHERE done IS NULL AND body IS NOT NULL AND claimed < ? AND holder <> ? "
    "AND holder NOT IN (SELECT holder FROM workers WHERE last_seen >= ?) "
    "RETURNING update_id, body"
)
# Taken when nobody holds it, when it has expired, or renewed by its holder; RETURNING gives
# a row only when this process holds it afterwards. SET sees the old row on both engines.
_ACQUIRE = (
    "INSERT INTO worker_leases (name, holder, acquired, heartbeat, expires) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
    "acquired = CASE WHEN worker_leases.holder = excluded.holder "
    "AND worker_leases.expires > excluded.heartbeat "
    "THEN worker_leases.acquired ELSE excluded.acquired END, "
    "holder = excluded.holder, heartbeat = excluded.heartbeat, expires = excluded.expires "
    "WHERE worker_leases.holder = excluded.holder OR worker_leases.expires <= excluded.heartbeat "
    "RETURNING acquired"
)
_HEARTBEAT = (
    "INSERT INTO workers (holder, role, host, pid, started, last_seen, index_passages, "
    "store_passages) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (holder) DO UPDATE SET "
    "role = excluded.role, last_seen = excluded.last_seen, "
    "index_passages = excluded.index_passages, store_passages = excluded.store_passages"
)
LEASE_COLUMNS = ("name", "holder", "acquired", "heartbeat", "expires")
WORKER_COLUMNS = (
    "holder", "role", "host", "pid", "started", "last_seen", "index_passages", "store_passages",
)  # fmt: skip


class WorkerStore:
    """The worker tables of one corpus store."""

    def __init__(self, corpus: Store) -> None:
        self.corpus = corpus
        with corpus.lock:
            migrations.MIGRATIONS.apply(corpus.db)

    # updates ----------------------------------------------------------------------------

    def claim_update(self, update_id: int, holder: str, when: str, body: str | None = None) -> bool:
        """Take an update on; False when some process (this one included) already did.

        With `body` (the update's JSON) the update is kept until `finish_update`, so another
        worker can answer it if this one dies first (`take_over_updates`).
        """
        # One statement: the primary key decides, whichever process inserts first, so it
        # needs no advisory lock and never waits behind the store's writers.
        with self.corpus.transaction(lock=None):
            row = self.corpus.db.execute(_CLAIM, [update_id, holder, when, body]).fetchone()
        return row is not None

    def finish_update(self, update_id: int, when: str) -> None:
        """Mark an update handled: nobody takes it over any more."""
        with self.corpus.transaction(lock=None):
            self.corpus.db.execute(
                "UPDATE handled_updates SET done = ? WHERE update_id = ?", [when, update_id]
            )

    def take_over_updates(self, holder: str, when: str, dead_before: str) -> list[tuple[int, str]]:
        """Claim for `holder` the updates that were acknowledged, never handled, and held by a
        process whose last heartbeat (if any) is older than `dead_before`; (id, JSON) each.

        Under the store's lock, so two workers taking over at once split nothing: the second
        finds the rows held by the first, whose heartbeat is alive.
        """
        with self.corpus.transaction():
            rows = self.corpus.db.execute(
                _TAKE_OVER, [holder, when, dead_before, holder, dead_before]
            ).fetchall()
        return [(int(update_id), str(body)) for update_id, body in rows]

    # rate limits ------------------------------------------------------------------------

    def rate_check(self, key: str, limit: int, window: float, now: float) -> Verdict:
        """Count one event for `key` if fewer than `limit` fell in the last `window` seconds.

        Over the limit: NOTIFY once, until the oldest counted event leaves the window, then
        SILENT. The count and the record are one transaction, so workers share the window.
        """
        db = self.corpus.db
        # Only checks of the same key race with each other: they alone are kept apart.
        with self.corpus.transaction(lock=f"rate:{key}"):
            db.execute("DELETE FROM rate_events WHERE key = ? AND at <= ?",
                       [key, stamp(now - window)])  # fmt: skip
            count, oldest = db.execute(
                "SELECT count(*), min(at) FROM rate_events WHERE key = ?", [key]
            ).fetchone()
            if int(count) < limit:
                db.execute("INSERT INTO rate_events (key, at) VALUES (?, ?)", [key, stamp(now)])
                db.execute("DELETE FROM rate_notices WHERE key = ?", [key])
                return Verdict.ALLOW
            told = db.execute("SELECT told_until FROM rate_notices WHERE key = ?", [key]).fetchone()
            if told is not None and told[0] > stamp(now):
                return Verdict.SILENT
            db.execute(
                "INSERT INTO rate_notices (key, told_until) VALUES (?, ?) ON CONFLICT (key) "
                "DO UPDATE SET told_until = excluded.told_until",
                [key, stamp(parse_stamp(oldest) + window)],
            )
            return Verdict.NOTIFY

    def rate_retry_after(self, key: str, limit: int, window: float, now: float) -> float:
        """Seconds until `key` may count an event again (0 when it may now)."""
        count, oldest = self.corpus.db.execute(
            "SELECT count(*), min(at) FROM rate_events WHERE key = ? AND at > ?",
            [key, stamp(now - window)],
        ).fetchone()
        if int(count) < limit:
            return 0.0
        return max(0.0, parse_stamp(oldest) + window - now)

    # the job lease ----------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        """Take the lease when it is free or expired, or renew it; whether `holder` has it."""
        with self.corpus.transaction():
            return self.take_lease(name, holder, now, ttl)

    def take_lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        """`acquire_lease` inside the caller's write transaction: the fence. Until that
        transaction ends no other process can take the lease (SQLite's one writer, PostgreSQL's
        advisory lock), so what the transaction writes is written by the holder."""
        when = stamp(now)
        row = self.corpus.db.execute(_ACQUIRE, [name, holder, when, when, stamp(now + ttl)])
        return row.fetchone() is not None

    def holds_lease(self, name: str, holder: str, now: float) -> bool:
        """Whether `holder` holds the lease now (a read: it may move a moment later)."""
        row = self.corpus.db.execute(
            "SELECT 1 FROM worker_leases WHERE name = ? AND holder = ? AND expires > ?",
            [name, holder, stamp(now)],
        ).fetchone()
        return row is not None

    def release_lease(self, name: str, holder: str, now: float) -> bool:
        """Give the lease up at once (it expires now); False when `holder` did not hold it."""
        with self.corpus.transaction():
            changed = self.corpus.db.execute(
                "UPDATE worker_leases SET expires = ?, heartbeat = ? "
                "WHERE name = ? AND holder = ? AND expires > ?",
                [stamp(now), stamp(now), name, holder, stamp(now)],
            ).rowcount
        return changed > 0

    # heartbeats and clearing up ---------------------------------------------------------

    def heartbeat(self, worker: dict[str, Any]) -> None:
        """Record that a process is alive (a dict keyed by `WORKER_COLUMNS`)."""
        with self.corpus.transaction(lock=None):  # one upsert of this process's own row
            self.corpus.db.execute(_HEARTBEAT, [worker[c] for c in WORKER_COLUMNS])

    def forget_worker(self, holder: str) -> None:
        """A process that stops cleanly takes its row away."""
        with self.corpus.transaction(lock=None):
            self.corpus.db.execute("DELETE FROM workers WHERE holder = ?", [holder])

    def prune(self, updates_before: str, events_before: str, workers_before: str) -> int:
        """Drop update claims, rate events and notices, and silent workers, older than given."""
        db = self.corpus.db
        with self.corpus.transaction():
            return sum(
                db.execute(sql, [when]).rowcount
                for sql, when in (
                    ("DELETE FROM handled_updates WHERE claimed < ?", updates_before),
                    ("DELETE FROM rate_events WHERE at < ?", events_before),
                    ("DELETE FROM rate_notices WHERE told_until < ?", events_before),
                    ("DELETE FROM workers WHERE last_seen < ?", workers_before),
                )
            )


# Read without migrating, for `doctor` (a database that never ran a worker has no tables).


def read_lease(db: Database, name: str) -> dict[str, Any] | None:
    """The lease's row, or None when it was never taken (or the tables do not exist yet)."""
    if "worker_leases" not in db.tables():
        return None
    columns = ", ".join(LEASE_COLUMNS)
    rows = db.query(f"SELECT {columns} FROM worker_leases WHERE name = ?", [name])
    return rows[0] if rows else None


def read_workers(db: Database, since: str) -> list[dict[str, Any]]:
    """The processes seen since `since`, by role then start, with the store's passage count."""
    if "workers" not in db.tables():
        return []
    columns = ", ".join(f"w.{c}" for c in WORKER_COLUMNS)
    return db.query(
        f"SELECT {columns}, (SELECT count(*) FROM chunks) AS stored_now FROM workers w "
        "WHERE w.last_seen >= ? ORDER BY w.role, w.started, w.holder",
        [since],
    )
