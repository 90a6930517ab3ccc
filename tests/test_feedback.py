"""Feedback: the 👍/👎 buttons through the real PTB stack, the store, stats and the export."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from sectorbot.bot.feedback import migrations as feedback_migrations
from sectorbot.bot.feedback.store import FeedbackStore, RatedAnswer
from sectorbot.bot.service import Service
from sectorbot.bot.telegram.feedback import UNKNOWN
from sectorbot.corpus.models import Document
from sectorbot.corpus.store import Store
from sectorbot.index.evaluate import load_questions
from tests.commands import SECTORBOT
from tests.conftest import ROOT
from tests.fakebotapi import BOT_USERNAME, MAX_CALLBACK_DATA_BYTES, Call, FakeBotAPI
from tests.test_telegram import (
    ADMIN,
    ALICE,
    AVDIIVKA,
    BOB,
    GROUP,
    LITHIUM,
    OUT_OF_SCOPE,
    assert_clean,
    buttons,
    running,
    say,
)
from tests.test_telegram import fake as fake  # the fixture, shared with the Telegram tests


def test_fresh_feedback_tables_and_votes(store: Store) -> None:
    feedback = FeedbackStore(store)
    tables = set(store.db.tables())
    assert {"feedback_answers", "feedback_votes"} <= tables
    recorded = "SELECT name FROM _migrations WHERE migration_set = 'feedback'"
    applied = {r["name"] for r in store.db.query(recorded)}
    assert set(feedback_migrations.MIGRATIONS.names()) == applied
    FeedbackStore(store)  # opening again applies nothing twice

    assert feedback.counts() == {"votes": 0, "votes_down": 0, "votes_down_share": None}
    key = feedback.record_answer(RatedAnswer("q?", [3, 5], ["doc-3", "https://e.org/5"]), "t")
    other = feedback.record_answer(RatedAnswer("q2?", [4], ["doc-4"]), "t")
    assert key != other and len(f"down:{key}".encode()) <= MAX_CALLBACK_DATA_BYTES
    assert feedback.vote("nosuchkey", 1, -1, "t") is None
    assert feedback.vote(key, 1, -1, "t") == "new"
    assert feedback.vote(key, 1, -1, "t") == "same"
    assert feedback.vote(key, 1, 1, "t") == "changed"
    assert feedback.vote(key, 2, -1, "t") == "new"
    assert feedback.vote(other, 1, 1, "t") == "new"
    assert feedback.counts() == {"votes": 3, "votes_down": 1, "votes_down_share": 0.333}
    assert feedback.disliked() == [RatedAnswer("q?", [3, 5], ["doc-3", "https://e.org/5"])]


async def press(fake: FakeBotAPI, chat: int, user: int, message_id: int, data: str) -> Call:
    """Press a button (or forge one) and wait for the bot's answer to that query."""
    since = len(fake.sent)
    fake.press_button(chat, user, message_id, data, check_button=False)
    return await fake.wait_for_async(
        lambda c: c.method == "answerCallbackQuery", since=since, timeout=10
    )


async def test_votes_one_per_user_changeable_and_forgeries_refused(
    fake: FakeBotAPI, sample_service: Service, tmp_path: Path
) -> None:
    async with running(fake, sample_service):
        answer = await say(fake, GROUP, BOB, f"/ask@{BOT_USERNAME} {LITHIUM}")
        keys = buttons(answer)
        assert list(keys) == ["Sources", "More", "👍", "👎"]
        assert all(len(d.encode()) <= MAX_CALLBACK_DATA_BYTES for d in keys.values())
        assert "https://" not in answer.plain_text  # titles are linked; the domain is shown
        assert "(kyivpost.com)" in answer.plain_text

        # Members without any admin rights vote; each user once, and may change their mind.
        first = await press(fake, GROUP, ALICE, answer.message_id, keys["👎"])
        assert first.params["text"].startswith("Thanks!") and "show_alert" not in first.params
        again = await press(fake, GROUP, ALICE, answer.message_id, keys["👎"])
        assert again.params["text"] == "You already voted 👎."
        changed = await press(fake, GROUP, ALICE, answer.message_id, keys["👍"])
        assert changed.params["text"] == "Vote changed to 👍."
        await press(fake, GROUP, BOB, answer.message_id, keys["👎"])

        # Forged or stale data is refused, never counted.
        for forged in ("up:AAAAAAAAAAAA", "down:", "down:../../x", "up:" + "A" * 40):
            refused = await press(fake, GROUP, ALICE, answer.message_id, forged)
            assert refused.params["text"] == UNKNOWN and refused.params["show_alert"] == "true"

        refusal = await say(fake, ALICE, ALICE, OUT_OF_SCOPE)
        assert refusal.reply_markup is None  # nothing cited, nothing to vote on
        liked = await say(fake, ALICE, ALICE, AVDIIVKA)
        await press(fake, ALICE, ALICE, liked.message_id, buttons(liked)["👍"])

        stats = await say(fake, ADMIN, ADMIN, "/stats")
        assert "votes: 3" in stats.plain_text and "votes down: 1" in stats.plain_text
        assert "votes down share: 0.333" in stats.plain_text
    assert_clean(fake)

    # The 👎 answer comes out of the CLI in the format `sectorbot eval` reads.
    out = tmp_path / "wrong.jsonl"
    env = {**os.environ, "SECTORBOT_DATA_DIR": str(sample_service.settings.data_dir)}
    run = subprocess.run(
        [*SECTORBOT, "feedback", "export", "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "wrote 1 question to" in run.stderr
    (item,) = load_questions(out)
    assert item["q"] == LITHIUM and item["answer"] == ""
    cited = sample_service.ask(LITHIUM).sources
    assert item["ids"] == [s.ext_id or s.url for s in cited] and item["ids"]
    printed = subprocess.run(
        [*SECTORBOT, "feedback", "export"], capture_output=True, text=True, cwd=ROOT, env=env
    )
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [json.loads(line) for line in printed.stdout.splitlines()] == written
    stats = subprocess.run([*SECTORBOT, "stats", "--json"], capture_output=True, text=True, env=env)
    assert json.loads(stats.stdout)["votes_down_share"] == 0.333


def test_stats_count_every_workers_questions_from_the_store(
    hash_embedder: object, database_target: str, tmp_path: Path
) -> None:
    from sectorbot.bot.settings import Settings

    def service() -> Service:
        if database_target.startswith("postgresql://"):
            return Service(Settings(data_dir=tmp_path / "d", database_url=database_target))
        return Service(Settings(data_dir=Path(database_target).parent))

    workers = [service(), service()]
    try:
        for n, worker in enumerate(workers):
            worker.store.upsert_document(
                Document(
                    text=f"Report {n}: the water supply of Myrnohrad was cut on {n + 3} May.",
                    title=f"Water {n}",
                    url=f"https://example.org/water/{n}",
                )
            )
            worker.reindex()
            worker.ask("When was the water supply of Myrnohrad cut?")
            worker.ask("What is the capital of Australia?")
        numbers = service()  # what `sectorbot stats` opens: none of the answers were its own
        try:
            stats = numbers.stats()
        finally:
            numbers.close()
    finally:
        for worker in workers:
            worker.close()
    assert stats.questions == 4 and 1 <= stats.refusals <= 4
    assert stats.answer_p95_ms is not None and stats.answer_p95_ms > 0
