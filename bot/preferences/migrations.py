"""The preference tables' own migration set, applied when a `PreferencesStore` opens.

Numbered from `m001_` within the set and recorded in `_migrations` as ("preferences", name); see
`sectorbot.corpus.migrations` for how to add one.
"""

from __future__ import annotations

from sectorbot.corpus.database import Database
from sectorbot.corpus.migrations import Dialect, MigrationSet

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
def m001_chat_languages(db: Database, d: Dialect) -> None:
    chat_languages(db, d)
