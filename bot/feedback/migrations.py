"""The feedback tables' own migration set, applied when a `FeedbackStore` opens.

Numbered from `m001_` within the set and recorded in `_migrations` as ("feedback", name); see
`sectorbot.corpus.migrations` for how to add one.
"""

from __future__ import annotations

from sectorbot.corpus.database import Database
from sectorbot.corpus.migrations import Dialect, MigrationSet

MIGRATIONS = MigrationSet("feedback")


def feedback(db: Database, d: Dialect) -> None:
    # One row per answer shown with vote buttons. The question and what it cited are copied
    # here (not joined from documents) so a 👎 can still be exported after a report is removed;
    # `refs` holds each cited document's ext_id or URL, the ids `sectorbot eval` understands.
    db.execute(
        f"""CREATE TABLE feedback_answers (
            id {d.ident},
            key {d.text} NOT NULL UNIQUE,
            question {d.text} NOT NULL,
            document_ids {d.text} NOT NULL,
            refs {d.text} NOT NULL,
            created {d.text} NOT NULL
        )"""
    )
    # The primary key is the "one vote per user per answer" rule; a second vote replaces it.
    db.execute(
        f"""CREATE TABLE feedback_votes (
            answer_id {d.integer} NOT NULL REFERENCES feedback_answers(id) ON DELETE CASCADE,
            user_id {d.integer} NOT NULL,
            vote INTEGER NOT NULL CHECK (vote IN (1, -1)),
            voted {d.text} NOT NULL,
            PRIMARY KEY (answer_id, user_id)
        )"""
    )


@MIGRATIONS.migration
def m001_feedback(db: Database, d: Dialect) -> None:
    feedback(db, d)


@MIGRATIONS.migration
def m002_answer_times(db: Database, d: Dialect) -> None:
    # One row per question answered or refused, by any worker: `stats` reads the count and
    # the 95th percentile of the time from here rather than from one process's memory.
    db.execute(
        f"""CREATE TABLE answer_times (
            id {d.ident},
            answered {d.text} NOT NULL,
            micros {d.integer} NOT NULL,
            refused {d.integer} NOT NULL
        )"""
    )
    db.execute("CREATE INDEX idx_answer_times_answered ON answer_times(answered)")
