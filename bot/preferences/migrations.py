"""The preference tables' own migrations, applied when a `PreferencesStore` opens.

They share the store's `_migrations` table with every other list, so a name must be unique
across them all. Add new ones at the end; never edit one that shipped.
"""

from __future__ import annotations

from sectorbot.corpus import migrations as corpus_migrations
from sectorbot.corpus.database import Database
from sectorbot.corpus.migrations import Migration


def m010_chat_languages(db: Database) -> None:
    # Only chats that chose a language have a row; the others follow each user's own
    # Telegram language, so "no row" and "automatic" are the same thing.
    db.execute(
        """CREATE TABLE chat_languages (
            chat_id INTEGER PRIMARY KEY,
            language TEXT NOT NULL,
            updated TEXT NOT NULL
        )"""
    )


MIGRATIONS: list[tuple[str, Migration]] = [(fn.__name__, fn) for fn in (m010_chat_languages,)]


def pg004_chat_languages(db: Database) -> None:
    t = corpus_migrations.PG_TEXT
    db.execute(
        f"""CREATE TABLE chat_languages (
            chat_id BIGINT PRIMARY KEY,
            language {t} NOT NULL,
            updated {t} NOT NULL
        )"""
    )


PG_MIGRATIONS: list[tuple[str, Migration]] = [(fn.__name__, fn) for fn in (pg004_chat_languages,)]


def apply(db: Database) -> list[str]:
    """Apply the preference migrations the database has not seen; return the names applied."""
    return corpus_migrations.apply(db, MIGRATIONS, PG_MIGRATIONS)
