"""All SQL of the feedback feature: the answers shown with vote buttons, the votes, and how
long each answer took (so `stats` counts every worker's questions).

`FeedbackStore` wraps the corpus `Store` (one connection, lock and database file) and applies
the feedback migrations when it opens.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

from sectorbot.bot.feedback import migrations
from sectorbot.corpus.dates import stamp
from sectorbot.corpus.health import Check
from sectorbot.corpus.store import Store

VoteOutcome = Literal["new", "changed", "same"]
KEY_BYTES = 9  # 12 URL-safe characters: unguessable, and short enough for callback_data
KEEP = 7 * 86400.0  # seconds of answer times kept; `stats` reads the last day
PRUNE_EVERY = 500  # answers between two deletions of the old answer times

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


@dataclass(frozen=True)
class AnswerTimes:
    """Questions over a period, by every worker: how many, how many refused, p95 in ms."""

    questions: int
    refusals: int
    p95_ms: float | None


def _p95_ms(sorted_micros: list[int]) -> float | None:
    """The nearest-rank 95th percentile, in milliseconds to one decimal."""
    if not sorted_micros:
        return None
    rank = max(math.ceil(0.95 * len(sorted_micros)), 1)
    return round(sorted_micros[rank - 1] / 1000, 1)


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

    def record_time(self, when: str, seconds: float, refused: bool) -> None:
        """Count one question (answered or refused) and how long the answer took."""
        db = self.corpus.db
        new_id = db.scalar(
            "INSERT INTO answer_times (answered, micros, refused) VALUES (?, ?, ?) RETURNING id",
            [when, round(seconds * 1_000_000), int(refused)],
        )
        if int(new_id) % PRUNE_EVERY == 0:  # now and then, not on every question
            db.execute("DELETE FROM answer_times WHERE answered < ?", [stamp(time.time() - KEEP)])

    def answer_times(self, since: str) -> AnswerTimes:
        """Questions, refusals and the 95th-percentile answer time since `since`."""
        rows = self.corpus.db.query(
            "SELECT micros, refused FROM answer_times WHERE answered >= ?", [since]
        )
        times = sorted(int(r["micros"]) for r in rows)
        refusals = sum(int(r["refused"]) for r in rows)
        return AnswerTimes(len(times), refusals, _p95_ms(times))

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
