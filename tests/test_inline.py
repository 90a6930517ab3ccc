"""Inline mode through the fake Bot API and the real PTB stack: the answer and its sources as
results Telegram accepts, nothing (with a hint) when the reports do not know, the same rate
limit as questions, and the user's language."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sectorbot.bot.service import Service
from tests.fakebotapi import FakeBotAPI
from tests.test_telegram import ADMIN, ALICE, LITHIUM, OUT_OF_SCOPE, assert_clean, running
from tests.test_telegram import _no_proxies as _no_proxies  # autouse: talk to 127.0.0.1 only

OKSANA = 2101


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        api.set_inline_mode(True)
        api.add_private_chat(ADMIN, "Ada", "ada")
        api.add_private_chat(ALICE, "Alice", "alice", language_code="en")
        api.add_private_chat(OKSANA, "Oksana", "oksana", language_code="uk")
        yield api
    assert api.internal_errors == []


async def inline(fake: FakeBotAPI, user: int, text: str) -> dict[str, Any]:
    """Type `@bot text` as `user` and wait for the bot's answer to that query."""
    query_id = fake.send_inline_query(user, text)
    await fake.wait_for_async(
        lambda c: c.method == "answerInlineQuery" and c.params["inline_query_id"] == query_id,
        timeout=15,
    )
    answer = fake.inline_answer(query_id)
    assert answer is not None
    return answer


async def test_inline_answer_then_sources_and_nothing_when_unknown(
    fake: FakeBotAPI, sample_service: Service
) -> None:
    async with running(fake, sample_service, questions_per_minute=3):
        found = await inline(fake, ALICE, LITHIUM)
        results = found["results"]
        assert [r["id"] for r in results][:2] == ["answer", "source-1"] and len(results) <= 6
        assert results[0]["title"] == LITHIUM and "[1]" in results[0]["plain_text"]
        assert "Shevchenko" in results[0]["plain_text"] and "Sources" in results[0]["plain_text"]
        first_source = results[1]
        assert first_source["url"].startswith("https://") and first_source["description"]
        assert first_source["title"] in first_source["plain_text"]
        assert found["cache_time"] == 300 and found["is_personal"] and found["button"] is None

        unknown = await inline(fake, ALICE, OUT_OF_SCOPE)
        assert unknown["results"] == [] and unknown["button"]["start_parameter"] == "noanswer"
        assert "don't answer" in unknown["button"]["text"]

        # The third search of the minute was the last allowed; the fourth gets a hint only.
        await inline(fake, ALICE, "Myrnohrad")
        limited = await inline(fake, ALICE, "Pokrovsk")
        assert limited["results"] == [] and limited["cache_time"] == 0
        assert "Too many questions" in limited["button"]["text"]
        assert (await inline(fake, ALICE, "a"))["results"] == []  # too short to search

        ukrainian = await inline(fake, OKSANA, LITHIUM)
        assert "Джерела" in ukrainian["results"][0]["plain_text"]
    assert_clean(fake)


async def test_a_filter_it_cannot_read_is_said_above_the_results(
    fake: FakeBotAPI, sample_service: Service
) -> None:
    async with running(fake, sample_service):
        bad = await inline(fake, ALICE, "Pokrovsk evacuation since:yesterday")
        assert bad["results"] == [] and bad["cache_time"] == 0
        assert bad["button"]["text"].startswith("Sorry:") and "since" in bad["button"]["text"]
    assert_clean(fake)


async def test_no_inline_queries_without_inline_mode(
    fake: FakeBotAPI, sample_service: Service
) -> None:
    fake.set_inline_mode(False)  # @BotFather's /setinline not done: Telegram sends nothing
    async with running(fake, sample_service):
        fake.send_inline_query(ALICE, LITHIUM)
        await asyncio.sleep(1.0)  # several long polls go by
    assert [u for u in fake.dropped_updates if "inline_query" in u]
    assert not fake.calls("answerInlineQuery")


def test_fake_refuses_inline_answers_telegram_refuses(fake: FakeBotAPI) -> None:
    def article(result_id: str, text: str = "<b>ok</b>") -> dict[str, Any]:
        content = {"message_text": text, "parse_mode": "HTML"}
        return {"type": "article", "id": result_id, "title": "t", "input_message_content": content}

    def answer(results: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        query_id = fake.send_inline_query(ALICE, "question")
        body = {"inline_query_id": query_id, "results": results, **extra}
        url = f"{fake.base_url}{fake.token}/answerInlineQuery"
        return httpx.post(url, json=body, trust_env=False).json()

    assert answer([article("a"), article("b")], cache_time=300)["ok"]
    refused = {
        "RESULT_ID_INVALID": answer([article("x" * 65)]),
        "RESULTS_TOO_MUCH": answer([article(str(n)) for n in range(51)]),
        "RESULT_ID_DUPLICATE": answer([article("a"), article("a")]),
        "MESSAGE_TOO_LONG": answer([article("a", "x" * 4097)]),
        "can't parse entities": answer([article("a", "<b>open")]),
        "START_PARAM_INVALID": answer([], button={"text": "hi", "start_parameter": "no spaces"}),
    }
    for reason, body in refused.items():
        assert not body["ok"] and reason in body["description"], body
    query_id = fake.send_inline_query(ALICE, "twice")
    url = f"{fake.base_url}{fake.token}/answerInlineQuery"
    assert httpx.post(url, json={"inline_query_id": query_id, "results": []}).json()["ok"]
    again = httpx.post(url, json={"inline_query_id": query_id, "results": []}).json()
    assert not again["ok"] and "query ID is invalid" in again["description"]
