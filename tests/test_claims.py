"""Claim check: a post forwarded by someone who is not an admin is checked against the reports,
through the fake Bot API and the real PTB stack, and never stored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sectorbot.bot.service import Service
from sectorbot.index.claims import claim_question
from tests.fakebotapi import FakeBotAPI
from tests.test_posts import forward
from tests.test_telegram import ADMIN, ALICE, assert_clean, running
from tests.test_telegram import _no_proxies as _no_proxies  # autouse: talk to 127.0.0.1 only

OKSANA = 2101
CHANNEL = -1001700000001
CLAIM = (
    "BREAKING. Russia's Ministry of Defence says its forces have fully captured Pokrovsk, "
    "announced on 1 December 2025. More to follow."
)
UNKNOWN = "The mayor of Canberra opened a new public library on 3 March 2025."


def test_the_question_is_the_key_sentence_places_and_months() -> None:
    asked = claim_question(
        "Heavy rain today. Russian troops entered Myrnohrad on 2025-11-29 and pushed toward "
        "Rodynske, 30 November 2025."
    )
    assert asked.key_sentence.startswith("Russian troops entered Myrnohrad")
    assert asked.places == ["Myrnohrad", "Rodynske"]
    assert asked.months == ["November 2025"]
    assert asked.question.endswith("in November 2025")
    assert claim_question("Nothing here at all.").places == []


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        api.add_private_chat(ADMIN, "Ada", "ada")
        api.add_private_chat(ALICE, "Alice", "alice", language_code="en")
        api.add_private_chat(OKSANA, "Oksana", "oksana", language_code="uk")
        api.add_channel(CHANNEL, "War news now", "war_news_now", bot_is_admin=False)
        yield api
    assert api.internal_errors == []


async def test_forwarded_claims_are_checked_not_stored(
    fake: FakeBotAPI, sample_service: Service
) -> None:
    documents = sample_service.store.document_count()
    async with running(fake, sample_service):
        _, post_id = fake.post_in_channel(CHANNEL, CLAIM)
        origin = fake.channel_origin(CHANNEL, post_id)
        checked = await forward(fake, ALICE, origin, CLAIM)
        text = checked.plain_text
        assert text.startswith("What my reports say about this\nChecked: “Russia's Ministry")
        assert "Places: Pokrovsk" in text and "Dates: December 2025" in text
        assert "Contradicts it" in text and "Supports it" in text
        assert "Sources\n[1]" in text and "whether a report asserts or denies" in text

        unknown = await forward(fake, ALICE, fake.hidden_user_origin("Anon", 1764403200), UNKNOWN)
        assert "No report I have covers this." in unknown.plain_text

        ukrainian = await forward(fake, OKSANA, origin, CLAIM)
        assert ukrainian.plain_text.startswith("Що про це кажуть мої звіти")
        assert "Дати: грудень 2025" in ukrainian.plain_text
        assert "Суперечить цьому" in ukrainian.plain_text
    assert sample_service.store.document_count() == documents
    assert_clean(fake)
