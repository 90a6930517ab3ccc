"""The worker tables' own migration set, applied when a `WorkerStore` opens.

Numbered from `m001_` within the set and recorded in `_migrations` as ("workers", name); see
`sectorbot.corpus.migrations` for how to add one. The rows here are
short-lived bookkeeping (claims, events, heartbeats): nothing is exported.
"""

from __future__ import annotations

from sectorbot.corpus.database import Database
from sectorbot.corpus.migrations import Dialect, MigrationSet

MIGRATIONS = MigrationSet("workers")


def worker_tables(db: Database, d: Dialect) -> None:
    # One row per update a process took on: the primary key is the "answered once" rule.
    db.execute(
        f"""CREATE TABLE handled_updates (
            update_id {d.integer} PRIMARY KEY,
            holder {d.text} NOT NULL,
            claimed {d.text} NOT NULL
        )"""
    )
    db.execute("CREATE INDEX idx_handled_updates_claimed ON handled_updates(claimed)")
    # The sliding window of each rate-limited key (a user), and until when a key that went
    # over the limit has been told so.
    db.execute(
        f"""CREATE TABLE rate_events (
            id {d.ident},
            key {d.text} NOT NULL,
            at {d.text} NOT NULL
        )"""
    )
    db.execute("CREATE INDEX idx_rate_events_key_at ON rate_events(key, at)")
    db.execute(
        f"""CREATE TABLE rate_notices (
            key {d.text} PRIMARY KEY,
            told_until {d.text} NOT NULL
        )"""
    )
    # One row per lease (today one: "jobs"); free when `expires` has passed.
    db.execute(
        f"""CREATE TABLE worker_leases (
            name {d.text} PRIMARY KEY,
            holder {d.text} NOT NULL,
            acquired {d.text} NOT NULL,
            heartbeat {d.text} NOT NULL,
            expires {d.text} NOT NULL
        )"""
    )
    # Each running process: what it does and how far its search index is behind the store.
    db.execute(
        f"""CREATE TABLE workers (
            holder {d.text} PRIMARY KEY,
            role {d.text} NOT NULL,
            host {d.text} NOT NULL,
            pid {d.integer} NOT NULL,
            started {d.text} NOT NULL,
            last_seen {d.text} NOT NULL,
            index_passages {d.integer},
            store_passages {d.integer}
        )"""
    )


@MIGRATIONS.migration
def m001_workers(db: Database, d: Dialect) -> None:
    worker_tables(db, d)


@MIGRATIONS.migration
def m002_update_bodies(db: Database, d: Dialect) -> None:
    # A webhook worker stores the update it acknowledges (`body`, the raw JSON) and marks it
    # `done` once handled: another worker answers what a dead one acknowledged but never did.
    db.execute(f"ALTER TABLE handled_updates ADD COLUMN body {d.text}")
    db.execute(f"ALTER TABLE handled_updates ADD COLUMN done {d.text}")
