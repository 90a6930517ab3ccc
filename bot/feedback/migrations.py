"""The feedback tables' own migrations, applied when a `FeedbackStore` opens.

They share the store's `_migrations` table with the corpus and alert migrations, so a name must
not appear in any other list. Add new ones at the end; never edit one that shipped.
"""

from __future__ import annotations

import sqlite_utils

from sectorbot.corpus import migrations as corpus_migrations
from sectorbot.corpus.migrations import Migration


def m009_feedback(db: sqlite_utils.Database) -> None:
    # One row per answer shown with vote buttons. The question and what it cited are copied
    # here (not joined from documents) so a 👎 can still be exported after a report is removed;
    # `refs` holds each cited document's ext_id or URL, the ids `sectorbot eval` understands.
    db.execute(
        """CREATE TABLE feedback_answers (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL UNIQUE,
            question TEXT NOT NULL,
            document_ids TEXT NOT NULL,
            refs TEXT NOT NULL,
            created TEXT NOT NULL
        )"""
    )
    # The primary key is the "one vote per user per answer" rule; a second vote replaces it.
    db.execute(
        """CREATE TABLE feedback_votes (
            answer_id INTEGER NOT NULL REFERENCES feedback_answers(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL,
            vote INTEGER NOT NULL CHECK (vote IN (1, -1)),
            voted TEXT NOT NULL,
            PRIMARY KEY (answer_id, user_id)
        )"""
    )


MIGRATIONS: list[tuple[str, Migration]] = [(fn.__name__, fn) for fn in (m009_feedback,)]


def apply(db: sqlite_utils.Database) -> list[str]:
    """Apply the feedback migrations the database has not seen; return the names applied."""
    return corpus_migrations.apply(db, MIGRATIONS)
