"""Groups and privacy mode: what the bot says about it in /start and in `doctor`, with the
fake Bot API delivering group messages the way Telegram does with privacy mode on and off."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from sectorbot.bot.ops import doctor
from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings
from tests.fakebotapi import BOT_USERNAME, TOKEN, FakeBotAPI
from tests.test_telegram import (
    ADMIN,
    ALICE,
    AVDIIVKA,
    BOB,
    GROUP,
    LITHIUM,
    assert_clean,
    quiet,
    reply_to,
    running,
    say,
    sent_to,
)
from tests.test_telegram import _no_proxies as _no_proxies  # autouse: talk to 127.0.0.1 only

OKSANA = 2101


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:  # privacy mode on, as for any new bot
        api.add_private_chat(ADMIN, "Ada", "ada")
        api.add_private_chat(ALICE, "Alice", "alice", language_code="en")
        api.add_private_chat(OKSANA, "Oksana", "oksana", language_code="uk")
        api.add_group(GROUP, "Pokrovsk watchers", {ALICE: "member", BOB: "member", OKSANA: "member",
                                                   ADMIN: "creator"})  # fmt: skip
        yield api
    assert api.internal_errors == []


async def test_privacy_on_start_explains_and_mentions_never_arrive(
    fake: FakeBotAPI, sample_service: Service
) -> None:
    async with running(fake, sample_service):
        hello = await say(fake, GROUP, ALICE, f"/start@{BOT_USERNAME}")
        assert "Privacy mode is on" in hello.plain_text
        assert "/ask and replies" in hello.plain_text
        assert "/setprivacy to @BotFather" in hello.plain_text and "Disable" in hello.plain_text
        ukrainian = await say(fake, GROUP, OKSANA, f"/start@{BOT_USERNAME}")
        assert "режим приватності" in ukrainian.plain_text and "/setprivacy" in ukrainian.plain_text
        private = await say(fake, ALICE, ALICE, "/start")
        assert "Privacy mode" not in private.plain_text  # only groups are affected

        since = len(fake.sent)
        mention = fake.send_text(GROUP, BOB, f"@{BOT_USERNAME} {LITHIUM}")
        assert mention in [u["update_id"] for u in fake.dropped_updates]
        asked = await say(fake, GROUP, BOB, f"/ask {LITHIUM}")
        assert "Shevchenko" in asked.plain_text
        followed = await say(fake, GROUP, ALICE, AVDIIVKA, reply_to_message_id=asked.message_id)
        assert "Avdiivka" in followed.plain_text
        await quiet(fake)
        assert len(sent_to(fake, GROUP, since)) == 2  # /ask and the reply; not the mention
    assert_clean(fake)


async def test_privacy_off_no_note_and_mentions_answered(
    fake: FakeBotAPI, sample_service: Service
) -> None:
    fake.set_privacy_mode(False)
    async with running(fake, sample_service):
        hello = await say(fake, GROUP, ALICE, f"/start@{BOT_USERNAME}")
        assert "Privacy" not in hello.plain_text and "/ask" in hello.plain_text
        since = len(fake.sent)
        fake.send_text(GROUP, BOB, f"@{BOT_USERNAME} {LITHIUM}")
        mentioned = await reply_to(fake, GROUP, since)
        assert "Shevchenko" in mentioned.plain_text
    assert fake.dropped_updates == []
    assert_clean(fake)


def test_doctor_reads_privacy_mode_from_get_me(fake: FakeBotAPI, settings: Settings) -> None:
    ready = dataclasses.replace(settings, telegram_bot_token=TOKEN, telegram_api_url=fake.base_url)
    status, detail = doctor.check_telegram(ready)
    assert status == "WARN" and f"@{BOT_USERNAME}: privacy mode is on" in detail
    assert "/ask and replies" in detail and "@BotFather, /setprivacy" in detail
    assert "inline mode off" in detail

    fake.set_privacy_mode(False)
    assert doctor.check_telegram(ready) == (
        "OK",
        f"@{BOT_USERNAME}: reads all group messages; inline mode off",
    )
    revoked = dataclasses.replace(ready, telegram_bot_token="123456:" + "A" * 35)
    status, detail = doctor.check_telegram(revoked)
    assert status == "FAIL" and "rejected" in detail and "AAAA" not in detail
    nowhere = dataclasses.replace(ready, telegram_api_url="http://127.0.0.1:9/bot")
    status, detail = doctor.check_telegram(nowhere)
    assert status == "WARN" and TOKEN not in detail and "ConnectError" in detail
