"""All SQL of the feedback feature: the answers shown with vote buttons and the votes.

`FeedbackStore` wraps the corpus `Store` (one connection, lock and database file) and applies
the feedback migrations when it opens.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from sectorbot.bot.feedback import migrations
from sectorbot.corpus.health import Check
from sectorbot.corpus.store import Store

VoteOutcome = Literal["new", "changed", "same"]
KEY_BYTES = 9  # 12 URL-safe characters: unguessable, and short enough for callback_data

_VOTE = (
    "INSERT INTO feedback_votes (answer_id, user_id, vote, voted) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (answer_id, user_id) DO UPDATE SET vote = excluded.vote, voted = excluded.voted"
)


@dataclass(frozen=True)
class RatedAnswer:
    """An answer as recorded for feedback: what was asked and what it cited."""

    question: str
    document_ids: list[int]
    refs: list[str]


class FeedbackStore:
    """The feedback tables of one corpus store."""

    def __init__(self, corpus: Store) -> None:
        self.corpus = corpus
        with corpus.lock:
            migrations.MIGRATIONS.apply(corpus.db)

    def record_answer(self, answer: RatedAnswer, when: str) -> str:
        """Store an answer that gets vote buttons; the random key its buttons carry."""
        row = [answer.question, json.dumps(answer.document_ids), json.dumps(answer.refs), when]
        while True:
            key = secrets.token_urlsafe(KEY_BYTES)
            try:
                # One insert under a unique key: atomic alone, so no advisory lock to wait on.
                with self.corpus.transaction(lock=None):
                    self.corpus.db.execute(
                        "INSERT INTO feedback_answers (key, question, document_ids, refs, "
                        "created) VALUES (?, ?, ?, ?, ?)",
                        [key, *row],
                    )
                return key
            except self.corpus.db.integrity_errors:  # the same random key twice: draw another
                continue

    def question(self, key: str) -> str | None:
        """The question of the answer recorded under `key`, or None."""
        value = self.corpus.db.scalar("SELECT question FROM feedback_answers WHERE key = ?", [key])
        return None if value is None else str(value)

    def vote(self, key: str, user_id: int, vote: int, when: str) -> VoteOutcome | None:
        """Record `vote` (1 or -1) by a user; None when no answer has that key."""
        with self.corpus.transaction(lock=f"vote:{key}"):  # only votes on one answer race
            db = self.corpus.db
            row = db.execute("SELECT id FROM feedback_answers WHERE key = ?", [key]).fetchone()
            if row is None:
                return None
            answer_id = int(row[0])
            before = db.execute(
                "SELECT vote FROM feedback_votes WHERE answer_id = ? AND user_id = ?",
                [answer_id, user_id],
            ).fetchone()
            if before is not None and int(before[0]) == vote:
                return "same"
            db.execute(_VOTE, [answer_id, user_id, vote, when])
            return "new" if before is None else "changed"

    def counts(self) -> dict[str, Any]:
        """Votes in all, 👎 among them, and the share of 👎 (None before the first vote)."""
        row = self.corpus.db.query(
            "SELECT count(*) AS votes, "
            "coalesce(sum(CASE WHEN vote = -1 THEN 1 ELSE 0 END), 0) AS down FROM feedback_votes"
        )[0]
        votes, down = int(row["votes"]), int(row["down"])
        share = round(down / votes, 3) if votes else None
        return {"votes": votes, "votes_down": down, "votes_down_share": share}

    def health(self) -> list[Check]:
        """The "feedback" check: the votes kept, the 👎 among them."""
        n = self.counts()
        return [Check("feedback", "OK", f"{n['votes']} votes, {n['votes_down']} of them 👎")]

    def disliked(self) -> list[RatedAnswer]:
        """Answers with at least one 👎, oldest first."""
        rows = self.corpus.db.query(
            "SELECT question, document_ids, refs FROM feedback_answers a WHERE EXISTS "
            "(SELECT 1 FROM feedback_votes v WHERE v.answer_id = a.id AND v.vote = -1) "
            "ORDER BY a.id"
        )
        return [
            RatedAnswer(r["question"], json.loads(r["document_ids"]), json.loads(r["refs"]))
            for r in rows
        ]
