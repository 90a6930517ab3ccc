"""The feedback tables' own migrations, applied when a `FeedbackStore` opens.

They share the store's `_migrations` table with the corpus and alert migrations, so a name must
not appear in any other list. Add new ones at the end; never edit one that shipped.
"""

from __future__ import annotations

from sectorbot.corpus import migrations as corpus_migrations
from sectorbot.corpus.database import Database
from sectorbot.corpus.migrations import Migration


def m009_feedback(db: Database) -> None:
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


def pg003_feedback(db: Database) -> None:
    t, ident = corpus_migrations.PG_TEXT, corpus_migrations.PG_ID
    db.execute(
        f"""CREATE TABLE feedback_answers (
            id {ident},
            key {t} NOT NULL UNIQUE,
            question {t} NOT NULL,
            document_ids {t} NOT NULL,
            refs {t} NOT NULL,
            created {t} NOT NULL
        )"""
    )
    db.execute(
        f"""CREATE TABLE feedback_votes (
            answer_id BIGINT NOT NULL REFERENCES feedback_answers(id) ON DELETE CASCADE,
            user_id BIGINT NOT NULL,
            vote INTEGER NOT NULL CHECK (vote IN (1, -1)),
            voted {t} NOT NULL,
            PRIMARY KEY (answer_id, user_id)
        )"""
    )


PG_MIGRATIONS: list[tuple[str, Migration]] = [(fn.__name__, fn) for fn in (pg003_feedback,)]


def apply(db: Database) -> list[str]:
    """Apply the feedback migrations the database has not seen; return the names applied."""
    return corpus_migrations.apply(db, MIGRATIONS, PG_MIGRATIONS)
