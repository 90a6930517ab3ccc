"""The preference tables' own migration set, applied when a `PreferencesStore` opens.

They share the store's `_migrations` table with every other set, so a name must be unique
across them all. Add new ones at the end; never edit one that shipped.
"""

from __future__ import annotations

from sectorbot.corpus.database import Database
from sectorbot.corpus.migrations import POSTGRESQL, SQLITE, Dialect, MigrationSet

MIGRATIONS = MigrationSet("preferences")


def chat_languages(db: Database, d: Dialect) -> None:
    # Only chats that chose a language have a row; the others follow each user's own
    # Telegram language, so "no row" and "automatic" are the same thing.
    db.execute(
        f"""CREATE TABLE chat_languages (
            chat_id {d.integer} PRIMARY KEY,
            language {d.text} NOT NULL,
            updated {d.text} NOT NULL
        )"""
    )


@MIGRATIONS.migration
def m010_chat_languages(db: Database) -> None:
    chat_languages(db, SQLITE)


@MIGRATIONS.pg_migration
def pg004_chat_languages(db: Database) -> None:
    chat_languages(db, POSTGRESQL)
