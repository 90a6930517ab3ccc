"""Telegram posts as reports, through the fake Bot API and the real PTB stack: forwards with
each `forward_origin` type, albums, and the live posts (and edits) of listed channels, which
share one identity with their forwarded copies and alert like feed entries."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from sectorbot.bot.service import Service
from tests.fakebotapi import Call, FakeBotAPI
from tests.test_telegram import ADMIN, ALICE, assert_clean, reply_to, running, say, until
from tests.test_telegram import _no_proxies as _no_proxies  # autouse: talk to 127.0.0.1 only

LISTED, UNLISTED, ELSEWHERE = -1001500000001, -1001500000002, -1001500000003
GROUP, UA_GROUP = -1001600000001, -1001600000002
CROSSING = (
    "Drone operators of the 79th brigade destroyed a Russian pontoon crossing over the Vovcha "
    "river near Andriivka on the night of 27 November 2025, the brigade said."
)
MYRNOHRAD = (
    "Russian assault groups tried again to enter Myrnohrad from the east on 29 November 2025; "
    "the defenders said they held the railway station."
)
POSTED = 1764403200  # 2025-11-29 08:00 UTC


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        api.add_private_chat(ADMIN, "Ada", "ada")
        api.add_private_chat(ALICE, "Alice", "alice")
        api.add_channel(LISTED, "DeepState", "DeepStateUA")
        api.add_channel(UNLISTED, "Rumours", "rumours_daily")
        api.add_channel(ELSEWHERE, "Kurakhove watch", "kurakhove_watch", bot_is_admin=False)
        api.add_group(GROUP, "Myrnohrad volunteers", {ADMIN: "creator", ALICE: "member"})
        api.add_group(UA_GROUP, "Волонтери Мирнограда", {ADMIN: "creator"})
        yield api
    assert api.internal_errors == []


async def forward(
    fake: FakeBotAPI, user: int, origin: dict[str, Any], text: str | None = None, **kw: Any
) -> Call:
    """Forward a message to the bot in private and wait for its answer."""
    since = len(fake.sent)
    fake.forward_to_bot(user, user, origin, text, **kw)
    return await reply_to(fake, user, since)


def stored(service: Service, **where: Any) -> list[dict[str, Any]]:
    column, value = next(iter(where.items()))
    return service.store.db.query(f"SELECT * FROM documents WHERE {column} = ?", [value])


async def test_admin_forwards_become_reports_with_each_origin(
    fake: FakeBotAPI, sample_service: Service
) -> None:
    async with running(fake, sample_service):
        # The bot is not in this channel: the forwarded copy is the first it sees of the post.
        _, post_id = fake.post_in_channel(ELSEWHERE, CROSSING, author_signature="Press desk")
        origin = fake.channel_origin(ELSEWHERE, post_id)
        added = await forward(fake, ADMIN, origin, CROSSING)
        assert added.plain_text.startswith("Added to the reports: “Drone operators of the 79th")
        assert "(Kurakhove watch, 20" in added.plain_text
        again = await forward(fake, ADMIN, origin, CROSSING)
        assert again.plain_text.startswith("I already had it")
        (row,) = stored(sample_service, ext_id=f"tg:1500000003:{post_id}")
        assert row["source"] == "Kurakhove watch" and row["author"] == "Press desk"
        assert row["url"] == f"https://t.me/kurakhove_watch/{post_id}"
        assert row["published"][:10] == row["fetched"][:10]  # the original date (just now)
        found = await say(fake, ADMIN, ADMIN, "/sources pontoon crossing Vovcha Andriivka")
        assert "Drone operators of the 79th" in found.plain_text  # searchable at once

        others = [
            (fake.user_origin(ALICE, POSTED), "Alice",
             "Shelling hit a bread factory in Dobropillia."),
            (fake.hidden_user_origin("Serhii K.", POSTED), "Serhii K.",
             "Evacuation buses left Rodynske for Dnipro this morning."),
            (fake.chat_origin(GROUP, POSTED, "admin"), "Myrnohrad volunteers",
             "Volunteers delivered generators to the hospital in Bilozerske."),
        ]  # fmt: skip
        for origin, publisher, text in others:
            reply = await forward(fake, ADMIN, origin, text)
            assert reply.plain_text.startswith("Added to the reports"), reply.plain_text
            (row,) = stored(sample_service, text=text)
            assert row["source"] == publisher and row["published"] == "2025-11-29T08:00:00"
            assert row["ext_id"] is None and row["origin_kind"] == "forward"

        # An album: three photos, the caption on the first; one report, one answer.
        since = len(fake.sent)
        caption = "Satellite images show new trenches west of Pokrovsk near Hryshyne."
        album = fake.channel_origin(ELSEWHERE, fake.post_in_channel(ELSEWHERE, "x")[1])
        fake.forward_to_bot(ADMIN, ADMIN, album, caption=caption, media_group_id="alb1")
        fake.forward_to_bot(ADMIN, ADMIN, album, media_group_id="alb1")
        fake.forward_to_bot(ADMIN, ADMIN, album, media_group_id="alb1")
        first = await reply_to(fake, ADMIN, since)
        assert first.plain_text.startswith("Added to the reports: “Satellite images")
        await asyncio.sleep(0.5)
        assert len([c for c in fake.sent[since:] if c.method == "sendMessage"]) == 1
        photo_only = await forward(fake, ADMIN, fake.user_origin(ALICE, POSTED), caption=None)
        assert "no text" in photo_only.plain_text

        # Anyone else's forward is not stored.
        count = sample_service.store.document_count()
        await forward(fake, ALICE, fake.hidden_user_origin("Anon", POSTED), "Kurakhove news.")
        assert sample_service.store.document_count() == count
    assert_clean(fake)


async def test_invisible_text_and_the_bots_own_answers_are_not_stored(
    fake: FakeBotAPI, sample_service: Service
) -> None:
    async with running(fake, sample_service):
        count = sample_service.store.document_count()
        # Zero-width space, word joiner, BOM, bidi marks, a Hangul filler: nothing shows.
        blank = "\u200b\u2060\ufeff\u200e\u200f \u202a\u202c\u3164\n\u200d"
        reply = await forward(fake, ADMIN, fake.user_origin(ALICE, POSTED), blank)
        assert "no text" in reply.plain_text
        answer = await say(fake, ADMIN, ADMIN, "Who cut the water in Myrnohrad?")
        own = fake.user_origin(fake.bot_id, POSTED)
        reply = await forward(fake, ADMIN, own, answer.plain_text or "")
        assert reply.plain_text.startswith("That is my own answer"), reply.plain_text
        since = len(fake.sent)
        fake.forward_to_bot(
            ADMIN, ADMIN, fake.user_origin(ALICE, POSTED), "Quoted via inline.", via_bot=True
        )
        reply = await reply_to(fake, ADMIN, since)
        assert reply.plain_text.startswith("That is my own answer"), reply.plain_text
        assert sample_service.store.document_count() == count
        latest = await say(fake, ADMIN, ADMIN, "/latest")
        assert "\u200b" not in (latest.text or "")
    assert_clean(fake)


async def test_a_forwarded_post_with_a_filter_gets_the_chats_hint(
    fake: FakeBotAPI, sample_service: Service
) -> None:
    async with running(fake, sample_service):
        text = "Evacuation from Pokrovsk continues since:yesterday, officials said."
        reply = await forward(fake, ALICE, fake.hidden_user_origin("Anon", POSTED), text)
        assert reply.plain_text.startswith("Sorry:") and "since" in reply.plain_text
        assert "went wrong" not in reply.plain_text
    assert_clean(fake)


async def test_listed_channel_posts_are_ingested_live_and_alert(
    fake: FakeBotAPI, sample_service: Service
) -> None:
    async with running(fake, sample_service, channels=frozenset({"deepstateua"})):
        subscribed = await say(fake, GROUP, ADMIN, "/subscribe Myrnohrad")
        assert "Subscribed" in subscribed.plain_text
        await say(fake, UA_GROUP, ADMIN, "/language uk")
        subscribed = await say(fake, UA_GROUP, ADMIN, "/subscribe Мирноград")
        assert subscribed.plain_text.startswith("Підписано: Myrnohrad (місце).")
        since = len(fake.sent)
        _, post_id = fake.post_in_channel(LISTED, MYRNOHRAD, author_signature="Duty officer")
        alert = await reply_to(fake, GROUP, since, timeout=30)
        assert "New report" in alert.plain_text and "Russian assault groups" in alert.plain_text
        assert "DeepState" in alert.plain_text and "Matched: Myrnohrad (place)" in alert.plain_text
        # Framed in the language the other group chose; the post itself stays as written.
        ukrainian = await reply_to(fake, UA_GROUP, since, timeout=30)
        assert ukrainian.plain_text.startswith("🔔 1 новий звіт")
        assert "Збіг: Myrnohrad (місце)" in ukrainian.plain_text
        assert "Russian assault groups" in ukrainian.plain_text
        ext_id = f"tg:1500000001:{post_id}"
        (row,) = stored(sample_service, ext_id=ext_id)
        assert row["origin_kind"] == "channel" and row["url"].endswith(f"/DeepStateUA/{post_id}")

        # A channel not listed is ignored, even with the bot as its admin.
        fake.post_in_channel(UNLISTED, "Myrnohrad has fallen, say unnamed sources.")
        await asyncio.sleep(0.5)
        assert not stored(sample_service, source="Rumours")

        # An edit replaces the text of the same report; a forwarded copy changes nothing.
        edited = MYRNOHRAD + " Later the brigade confirmed the station was still held."
        fake.edit_channel_post(LISTED, post_id, edited)
        await until(lambda: stored(sample_service, ext_id=ext_id)[0]["text"] == edited)
        copy = await forward(fake, ADMIN, fake.channel_origin(LISTED, post_id), edited)
        assert copy.plain_text.startswith("I already had it")
        assert len(stored(sample_service, ext_id=ext_id)) == 1
        await asyncio.sleep(0.5)
        alerts = sample_service.store.db.query(
            "SELECT count(*) AS n FROM alerts WHERE document_id = ?", [row["id"]]
        )
        assert alerts[0]["n"] == 2  # one per group: the edit and the copy alerted nobody again
    assert_clean(fake)
