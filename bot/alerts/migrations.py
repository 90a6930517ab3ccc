"""The alert tables' own migrations, applied when an `AlertStore` opens.

They share the store's `_migrations` table with the corpus migrations
(`sectorbot.corpus.migrations`), so a name must not appear in both lists. The first three were
corpus migrations once and keep their names: a database that ran them under those names does
not run them again, and a fresh database gets them from here. They come after the corpus
migrations (they point at `documents`). Add new ones at the end; never edit one that shipped.
"""

from __future__ import annotations

from sectorbot.corpus import migrations as corpus_migrations
from sectorbot.corpus.database import Database
from sectorbot.corpus.migrations import Migration


def m003_feeds(db: Database) -> None:
    db.execute(
        """CREATE TABLE feeds (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            url TEXT NOT NULL UNIQUE,
            title TEXT,
            added TEXT NOT NULL,
            added_by TEXT,
            etag TEXT,
            last_modified TEXT,
            last_polled TEXT,
            last_ok TEXT,
            last_error TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            next_poll TEXT,
            active INTEGER NOT NULL DEFAULT 1
        )"""
    )


def m005_subscriptions(db: Database) -> None:
    # One row per chat the bot alerts: its delivery preferences and whether it still can be
    # reached (a chat that blocked or removed the bot is kept, inactive, with the reason).
    db.execute(
        """CREATE TABLE chats (
            chat_id INTEGER PRIMARY KEY,
            type TEXT NOT NULL,
            title TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            deactivated_reason TEXT,
            deactivated_at TEXT,
            digest_hours INTEGER NOT NULL DEFAULT 0,
            quiet_start INTEGER,
            quiet_end INTEGER,
            utc_offset INTEGER NOT NULL DEFAULT 0,
            last_sent TEXT,
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        )"""
    )
    # `value` is what the user typed; `normalized` is what matching uses (a place id, a
    # folded keyword, or the topic text) and makes a repeated subscription a no-op.
    db.execute(
        """CREATE TABLE subscriptions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            chat_id INTEGER NOT NULL
                REFERENCES chats(chat_id) ON DELETE CASCADE ON UPDATE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('place', 'keyword', 'topic')),
            value TEXT NOT NULL,
            normalized TEXT NOT NULL,
            vector BLOB,
            model TEXT,
            created TEXT NOT NULL,
            created_by INTEGER,
            UNIQUE (chat_id, kind, normalized)
        )"""
    )
    db.execute("CREATE INDEX idx_subscriptions_kind ON subscriptions(kind)")


def m006_alerts(db: Database) -> None:
    # The outbox. UNIQUE (chat_id, document_id) is the exactly-once guarantee: however often
    # a document is matched (a re-poll, a restart mid-run), a chat gets one row for it.
    db.execute(
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            chat_id INTEGER NOT NULL
                REFERENCES chats(chat_id) ON DELETE CASCADE ON UPDATE CASCADE,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            subscription_id INTEGER REFERENCES subscriptions(id) ON DELETE SET NULL,
            matched TEXT NOT NULL,
            excerpt TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt TEXT NOT NULL,
            last_error TEXT,
            sent_at TEXT,
            message_id INTEGER,
            UNIQUE (chat_id, document_id)
        )"""
    )
    db.execute("CREATE INDEX idx_alerts_due ON alerts(status, next_attempt)")
    db.execute("CREATE INDEX idx_alerts_sent_at ON alerts(sent_at)")
    # Documents that still have to be matched against the subscriptions. The trigger fills it
    # in the same transaction that inserts a feed document, so a crash between storing and
    # matching cannot lose an alert; only inserts fire it, so an edited entry never alerts.
    db.execute(
        """CREATE TABLE alert_inbox (
            document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
            added TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TRIGGER documents_alert_inbox AFTER INSERT ON documents
        WHEN new.origin_kind = 'feed' BEGIN
            INSERT OR IGNORE INTO alert_inbox (document_id, added) VALUES (new.id, new.fetched);
        END"""
    )


def m008_alert_stamps_in_milliseconds(db: Database) -> None:
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


def m011_channel_posts_alert(db: Database) -> None:
    # Posts read live from a listed Telegram channel alert like feed entries: the same trigger,
    # the same transaction. Forwarded copies and imported exports still do not.
    db.execute("DROP TRIGGER documents_alert_inbox")
    db.execute(
        """CREATE TRIGGER documents_alert_inbox AFTER INSERT ON documents
        WHEN new.origin_kind IN ('feed', 'channel') BEGIN
            INSERT OR IGNORE INTO alert_inbox (document_id, added) VALUES (new.id, new.fetched);
        END"""
    )


MIGRATIONS: list[tuple[str, Migration]] = [
    (fn.__name__, fn)
    for fn in (
        m003_feeds,
        m005_subscriptions,
        m006_alerts,
        m008_alert_stamps_in_milliseconds,
        m011_channel_posts_alert,
    )
]


# PostgreSQL: the same tables in one step (see `corpus.migrations` on identities and COLLATE).


def pg002_alerts(db: Database) -> None:
    t, ident = corpus_migrations.PG_TEXT, corpus_migrations.PG_ID
    db.execute(
        f"""CREATE TABLE feeds (
            id {ident},
            url {t} NOT NULL UNIQUE,
            title {t},
            added {t} NOT NULL,
            added_by {t},
            etag {t},
            last_modified {t},
            last_polled {t},
            last_ok {t},
            last_error {t},
            failures BIGINT NOT NULL DEFAULT 0,
            next_poll {t},
            active INTEGER NOT NULL DEFAULT 1
        )"""
    )
    db.execute(
        f"""CREATE TABLE chats (
            chat_id BIGINT PRIMARY KEY,
            type {t} NOT NULL,
            title {t},
            active INTEGER NOT NULL DEFAULT 1,
            deactivated_reason {t},
            deactivated_at {t},
            digest_hours BIGINT NOT NULL DEFAULT 0,
            quiet_start BIGINT,
            quiet_end BIGINT,
            utc_offset BIGINT NOT NULL DEFAULT 0,
            last_sent {t},
            created {t} NOT NULL,
            updated {t} NOT NULL
        )"""
    )
    db.execute(
        f"""CREATE TABLE subscriptions (
            id {ident},
            chat_id BIGINT NOT NULL
                REFERENCES chats(chat_id) ON DELETE CASCADE ON UPDATE CASCADE,
            kind {t} NOT NULL CHECK (kind IN ('place', 'keyword', 'topic')),
            value {t} NOT NULL,
            normalized {t} NOT NULL,
            vector BYTEA,
            model {t},
            created {t} NOT NULL,
            created_by BIGINT,
            UNIQUE (chat_id, kind, normalized)
        )"""
    )
    db.execute("CREATE INDEX idx_subscriptions_kind ON subscriptions(kind)")
    db.execute(
        f"""CREATE TABLE alerts (
            id {ident},
            chat_id BIGINT NOT NULL
                REFERENCES chats(chat_id) ON DELETE CASCADE ON UPDATE CASCADE,
            document_id BIGINT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            subscription_id BIGINT REFERENCES subscriptions(id) ON DELETE SET NULL,
            matched {t} NOT NULL,
            excerpt {t} NOT NULL DEFAULT '',
            created {t} NOT NULL,
            status {t} NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
            attempts BIGINT NOT NULL DEFAULT 0,
            next_attempt {t} NOT NULL,
            last_error {t},
            sent_at {t},
            message_id BIGINT,
            UNIQUE (chat_id, document_id)
        )"""
    )
    db.execute("CREATE INDEX idx_alerts_due ON alerts(status, next_attempt)")
    db.execute("CREATE INDEX idx_alerts_sent_at ON alerts(sent_at)")
    db.execute(
        f"""CREATE TABLE alert_inbox (
            document_id BIGINT PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
            added {t} NOT NULL
        )"""
    )
    db.execute(
        """CREATE FUNCTION documents_alert_inbox() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO alert_inbox (document_id, added) VALUES (NEW.id, NEW.fetched)
                ON CONFLICT DO NOTHING;
            RETURN NULL;
        END $$"""
    )
    db.execute(
        "CREATE TRIGGER documents_alert_inbox AFTER INSERT ON documents FOR EACH ROW "
        "WHEN (NEW.origin_kind IN ('feed', 'channel')) EXECUTE FUNCTION documents_alert_inbox()"
    )


PG_MIGRATIONS: list[tuple[str, Migration]] = [(fn.__name__, fn) for fn in (pg002_alerts,)]


def apply(db: Database) -> list[str]:
    """Apply the alert migrations the database has not seen; return the names applied."""
    return corpus_migrations.apply(db, MIGRATIONS, PG_MIGRATIONS)
