"""The alert tables' own migration set (`alerts`), applied when an `AlertStore` opens.

Numbered from `m001_` within the set and recorded in `_migrations` as ("alerts", name); see
`sectorbot.corpus.migrations` for how to add one. They come after the corpus set (the outbox
points at `documents`). Each step runs on both engines; the trigger that fills the inbox is
written per engine.
"""

from __future__ import annotations

from sectorbot.corpus.database import Database
from sectorbot.corpus.migrations import Dialect, MigrationSet

MIGRATIONS = MigrationSet("alerts")


# Tables ----------------------------------------------------------------------------------------


def feeds(db: Database, d: Dialect) -> None:
    db.execute(
        f"""CREATE TABLE feeds (
            id {d.ident},
            url {d.text} NOT NULL UNIQUE,
            title {d.text},
            added {d.text} NOT NULL,
            added_by {d.text},
            etag {d.text},
            last_modified {d.text},
            last_polled {d.text},
            last_ok {d.text},
            last_error {d.text},
            failures {d.integer} NOT NULL DEFAULT 0,
            next_poll {d.text},
            active INTEGER NOT NULL DEFAULT 1
        )"""
    )


def subscriptions(db: Database, d: Dialect) -> None:
    # One row per chat the bot alerts: its delivery preferences and whether it still can be
    # reached (a chat that blocked or removed the bot is kept, inactive, with the reason).
    db.execute(
        f"""CREATE TABLE chats (
            chat_id {d.integer} PRIMARY KEY,
            type {d.text} NOT NULL,
            title {d.text},
            active INTEGER NOT NULL DEFAULT 1,
            deactivated_reason {d.text},
            deactivated_at {d.text},
            digest_hours {d.integer} NOT NULL DEFAULT 0,
            quiet_start {d.integer},
            quiet_end {d.integer},
            utc_offset {d.integer} NOT NULL DEFAULT 0,
            last_sent {d.text},
            created {d.text} NOT NULL,
            updated {d.text} NOT NULL
        )"""
    )
    # `value` is what the user typed; `normalized` is what matching uses (a place id, a
    # folded keyword, or the topic text) and makes a repeated subscription a no-op.
    db.execute(
        f"""CREATE TABLE subscriptions (
            id {d.ident},
            chat_id {d.integer} NOT NULL
                REFERENCES chats(chat_id) ON DELETE CASCADE ON UPDATE CASCADE,
            kind {d.text} NOT NULL CHECK (kind IN ('place', 'keyword', 'topic')),
            value {d.text} NOT NULL,
            normalized {d.text} NOT NULL,
            vector {d.blob},
            model {d.text},
            created {d.text} NOT NULL,
            created_by {d.integer},
            UNIQUE (chat_id, kind, normalized)
        )"""
    )
    db.execute("CREATE INDEX idx_subscriptions_kind ON subscriptions(kind)")


def outbox(db: Database, d: Dialect) -> None:
    # The outbox. UNIQUE (chat_id, document_id) is the exactly-once guarantee: however often
    # a document is matched (a re-poll, a restart mid-run), a chat gets one row for it.
    db.execute(
        f"""CREATE TABLE alerts (
            id {d.ident},
            chat_id {d.integer} NOT NULL
                REFERENCES chats(chat_id) ON DELETE CASCADE ON UPDATE CASCADE,
            document_id {d.integer} NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            subscription_id {d.integer} REFERENCES subscriptions(id) ON DELETE SET NULL,
            matched {d.text} NOT NULL,
            excerpt {d.text} NOT NULL DEFAULT '',
            created {d.text} NOT NULL,
            status {d.text} NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
            attempts {d.integer} NOT NULL DEFAULT 0,
            next_attempt {d.text} NOT NULL,
            last_error {d.text},
            sent_at {d.text},
            message_id {d.integer},
            UNIQUE (chat_id, document_id)
        )"""  # noqa: E501 (the status line: SQLite keeps this text as it was first written)
    )
    db.execute("CREATE INDEX idx_alerts_due ON alerts(status, next_attempt)")
    db.execute("CREATE INDEX idx_alerts_sent_at ON alerts(sent_at)")
    # Documents that still have to be matched against the subscriptions. Each engine's trigger
    # fills it in the same transaction that inserts a feed document, so a crash between storing
    # and matching cannot lose an alert; only inserts fire it, so an edited entry never alerts.
    db.execute(
        f"""CREATE TABLE alert_inbox (
            document_id {d.integer} PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
            added {d.text} NOT NULL
        )"""
    )


# Migrations ------------------------------------------------------------------------------------


@MIGRATIONS.migration
def m001_feeds(db: Database, d: Dialect) -> None:
    feeds(db, d)


@MIGRATIONS.migration
def m002_subscriptions(db: Database, d: Dialect) -> None:
    subscriptions(db, d)


@MIGRATIONS.migration
def m003_alerts(db: Database, d: Dialect) -> None:
    outbox(db, d)
    if d.name == "sqlite":
        db.execute(
            """CREATE TRIGGER documents_alert_inbox AFTER INSERT ON documents
        WHEN new.origin_kind = 'feed' BEGIN
            INSERT OR IGNORE INTO alert_inbox (document_id, added) VALUES (new.id, new.fetched);
        END"""
        )
        return
    db.execute(
        """CREATE FUNCTION documents_alert_inbox() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO alert_inbox (document_id, added) VALUES (NEW.id, NEW.fetched)
                ON CONFLICT DO NOTHING;
            RETURN NULL;
        END $$"""
    )
    postgres_inbox_trigger(db, "('feed')")


def postgres_inbox_trigger(db: Database, kinds: str) -> None:
    """PostgreSQL's trigger that queues each new document of these origin kinds."""
    db.execute(
        "CREATE TRIGGER documents_alert_inbox AFTER INSERT ON documents FOR EACH ROW "
        f"WHEN (NEW.origin_kind IN {kinds}) EXECUTE FUNCTION documents_alert_inbox()"
    )


@MIGRATIONS.migration
def m004_alert_stamps_in_milliseconds(db: Database, d: Dialect) -> None:
    # Feeds were added with times to the second, and the inbox copied `documents.fetched`,
    # which was to the second too, while the rest wrote milliseconds. `next_poll <= ?` and the
    # outbox's due times are string comparisons: they need the one format `dates.stamp` writes.
    stamped = [
        ("feeds", "added"), ("feeds", "last_polled"), ("feeds", "last_ok"),
        ("feeds", "next_poll"), ("chats", "deactivated_at"), ("chats", "last_sent"),
        ("chats", "created"), ("chats", "updated"), ("subscriptions", "created"),
        ("alerts", "created"), ("alerts", "next_attempt"), ("alerts", "sent_at"),
        ("alert_inbox", "added"),
    ]  # fmt: skip
    for table, column in stamped:
        db.execute(f"UPDATE {table} SET {column} = {column} || '.000' WHERE length({column}) = 19")


@MIGRATIONS.migration
def m005_channel_posts_alert(db: Database, d: Dialect) -> None:
    # Posts read live from a listed Telegram channel alert like feed entries: the same trigger,
    # the same transaction. Forwarded copies and imported exports still do not.
    if d.name == "postgresql":
        db.execute("DROP TRIGGER documents_alert_inbox ON documents")
        postgres_inbox_trigger(db, "('feed', 'channel')")
        return
    db.execute("DROP TRIGGER documents_alert_inbox")
    db.execute(
        """CREATE TRIGGER documents_alert_inbox AFTER INSERT ON documents
        WHEN new.origin_kind IN ('feed', 'channel') BEGIN
            INSERT OR IGNORE INTO alert_inbox (document_id, added) VALUES (new.id, new.fetched);
        END"""
    )
