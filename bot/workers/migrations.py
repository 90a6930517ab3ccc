"""The worker tables' own migrations, applied when a `WorkerStore` opens.

They share the store's `_migrations` table with the other features' migrations, so a name must
not appear in any other list. Add new ones at the end; never edit one that shipped. The rows
here are short-lived bookkeeping (claims, events, heartbeats): nothing is exported.
"""

from __future__ import annotations

from sectorbot.corpus import migrations as corpus_migrations
from sectorbot.corpus.database import Database
from sectorbot.corpus.migrations import Migration


def _tables(db: Database, text: str, integer: str, ident: str) -> None:
    # One row per update a process took on: the primary key is the "answered once" rule.
    db.execute(
        f"""CREATE TABLE handled_updates (
            update_id {integer} PRIMARY KEY,
            holder {text} NOT NULL,
            claimed {text} NOT NULL
        )"""
    )
    db.execute("CREATE INDEX idx_handled_updates_claimed ON handled_updates(claimed)")
    # The sliding window of each rate-limited key (a user), and until when a key that went
    # over the limit has been told so.
    db.execute(
        f"""CREATE TABLE rate_events (
            id {ident},
            key {text} NOT NULL,
            at {text} NOT NULL
        )"""
    )
    db.execute("CREATE INDEX idx_rate_events_key_at ON rate_events(key, at)")
    db.execute(
        f"""CREATE TABLE rate_notices (
            key {text} PRIMARY KEY,
            told_until {text} NOT NULL
        )"""
    )
    # One row per lease (today one: "jobs"); free when `expires` has passed.
    db.execute(
        f"""CREATE TABLE worker_leases (
            name {text} PRIMARY KEY,
            holder {text} NOT NULL,
            acquired {text} NOT NULL,
            heartbeat {text} NOT NULL,
            expires {text} NOT NULL
        )"""
    )
    # Each running process: what it does and how far its search index is behind the store.
    db.execute(
        f"""CREATE TABLE workers (
            holder {text} PRIMARY KEY,
            role {text} NOT NULL,
            host {text} NOT NULL,
            pid {integer} NOT NULL,
            started {text} NOT NULL,
            last_seen {text} NOT NULL,
            index_passages {integer},
            store_passages {integer}
        )"""
    )


def m014_workers(db: Database) -> None:
    _tables(db, "TEXT", "INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT")


MIGRATIONS: list[tuple[str, Migration]] = [(fn.__name__, fn) for fn in (m014_workers,)]


def pg005_workers(db: Database) -> None:
    _tables(db, corpus_migrations.PG_TEXT, "BIGINT", corpus_migrations.PG_ID)


PG_MIGRATIONS: list[tuple[str, Migration]] = [(fn.__name__, fn) for fn in (pg005_workers,)]


def apply(db: Database) -> list[str]:
    """Apply the worker migrations the database has not seen; return the names applied."""
    return corpus_migrations.apply(db, MIGRATIONS, PG_MIGRATIONS)
