"""The Telegram bot end to end: the real PTB Application against the fake Bot API over HTTP.

Every test drives the bot the way Telegram would (updates in, Bot API calls out) with the
real Service over the sample corpus; the fake server refuses whatever Telegram would refuse
(bad HTML, over-long text, unchanged edits), so "nothing rejected" is a real check.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from sectorbot.bot.alerts.poller import add_feed
from sectorbot.bot.alerts.store import AlertStore
from sectorbot.bot.markup import escape, split_message, visible_length
from sectorbot.bot.service import Service
from sectorbot.bot.telegram import webhook
from sectorbot.bot.telegram.app import (
    ALLOWED_KINDS,
    SORRY,
    build_application,
    file_api_url,
)
from sectorbot.bot.telegram.questions import EXPIRED
from sectorbot.bot.telegram.render import render_answer, render_sources
from sectorbot.bot.telegram.state import AnswerCache, App, BotData
from sectorbot.corpus.errors import FeedError
from sectorbot.corpus.store import Store
from sectorbot.index.answer import Answer, AnswerSentence, Source
from tests.conftest import free_port
from tests.fakebotapi import (
    BOT_USERNAME,
    TOKEN,
    Call,
    FakeBotAPI,
    loopback_request,
    parse_formatted_text,
    polling,
    utf16_len,
)
from tests.httpserver import LocalServer

ADMIN, ALICE, BOB, CAROL, DAVE = 1001, 2001, 2002, 2003, 2004
GROUP = -1001234567890
LITHIUM = "Who captured the lithium deposit near Shevchenko?"
AVDIIVKA = "When did Ukrainian troops withdraw from Avdiivka?"
MYRNOHRAD = "How many residents were left in Myrnohrad when police said Russians had entered?"
DISPUTED = (
    "How did Ukraine's General Staff respond to Russia's claim that Pokrovsk had been captured?"
)
OUT_OF_SCOPE = "What is the capital of Australia?"
QUESTIONS = [LITHIUM, AVDIIVKA, MYRNOHRAD, "When did Russia claim to have captured Selydove?"]


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # httpx honours proxy variables; everything here talks to 127.0.0.1 directly.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        api.set_privacy_mode(False)  # the bot reads all group messages (mentions included)
        api.add_private_chat(ADMIN, "Ada", "ada")
        for uid, name in [(ALICE, "Alice"), (BOB, "Bob"), (CAROL, "Carol"), (DAVE, "Dave")]:
            api.add_private_chat(uid, name, name.lower())
        api.add_group(
            GROUP, "Pokrovsk watchers", {ALICE: "member", BOB: "member", ADMIN: "creator"}
        )
        yield api
    assert api.internal_errors == []


@asynccontextmanager
async def running(fake: FakeBotAPI, service: Service, **changes: Any) -> AsyncIterator[App]:
    """The bot built by build_application, polling the fake server until the block ends."""
    options: dict[str, Any] = {"admin_ids": frozenset({ADMIN}), **changes}
    settings = dataclasses.replace(
        service.settings, telegram_bot_token=TOKEN, telegram_api_url=fake.base_url, **options
    )
    app = build_application(
        service, settings, request=loopback_request(), get_updates_request=loopback_request(1)
    )
    async with polling(app, ALLOWED_KINDS):
        yield app


def state(app: App) -> BotData:
    return app.bot_data


async def say(fake: FakeBotAPI, chat: int, user: int, text: str, **kw: Any) -> Call:
    """Send a message and wait for the bot's first message to that chat after it."""
    since = len(fake.sent)
    fake.send_text(chat, user, text, **kw)
    return await reply_to(fake, chat, since)


async def reply_to(fake: FakeBotAPI, chat: int, since: int, timeout: float = 15) -> Call:
    return await fake.wait_for_async(
        lambda c: c.method == "sendMessage" and c.chat_id == chat, timeout=timeout, since=since
    )


async def until(condition: Callable[[], bool], timeout: float = 20, what: str = "") -> None:
    """Wait (without blocking the bot's loop) until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        await asyncio.sleep(0.02)


def sent_to(fake: FakeBotAPI, chat: int, since: int = 0) -> list[Call]:
    return [c for c in fake.sent[since:] if c.method == "sendMessage" and c.chat_id == chat]


async def quiet(fake: FakeBotAPI, seconds: float = 0.3) -> None:
    """Let the bot finish anything in flight (used before asserting that nothing was sent)."""
    await asyncio.sleep(seconds)


def links(call: Call) -> list[str]:
    return [e["url"] for e in call.entities if e["type"] == "text_link"]


def buttons(call: Call) -> dict[str, str]:
    rows = (call.reply_markup or {}).get("inline_keyboard", [])
    return {b["text"]: b["callback_data"] for row in rows for b in row}


def replied_id(call: Call) -> int | None:
    raw = call.params.get("reply_parameters")
    return json.loads(raw)["message_id"] if raw else None


def assert_clean(fake: FakeBotAPI) -> None:
    assert fake.rejected == [], [(r.method, r.description) for r in fake.rejected]
    assert fake.internal_errors == []
    assert not [c for c in fake.calls("sendMessage") if c.text == SORRY]


# ------------------------------------------------------------------------------ pure units


def test_split_message_respects_limit_tags_and_entities() -> None:
    para = "<b>Heading</b>\n" + "\n".join(f"• line {i} &amp; &lt;more&gt; 🇺🇦" for i in range(40))
    html = "\n\n".join([para] * 12)
    parts = split_message(html, limit=1000)
    assert len(parts) > 1
    for part in parts:
        plain, _ = parse_formatted_text(part, "HTML")  # raises on a broken tag or entity
        assert utf16_len(plain) <= 1000
        assert visible_length(part) <= 1000
    # Cut only at line ends here: every part starts with a bullet or the heading.
    assert all(p.startswith(("<b>Heading", "•")) for p in parts)

    long_line = (
        "<i>"
        + " ".join(["Pokrovsk&amp;Myrnohrad"] * 600)
        + '</i> <a href="https://e.org/">'
        + ("x" * 5000)
        + "</a>"
    )
    parts = split_message(long_line)
    assert len(parts) >= 3
    for part in parts:
        plain, entities = parse_formatted_text(part, "HTML")
        assert utf16_len(plain) <= 4096 and plain.strip()
        assert entities  # the tags were closed and reopened around each cut
    assert split_message("   \n\n  ") == []


def test_answer_html_escapes_and_labels_disagreement() -> None:
    evil = 'Ukraine <denied> the "capture" & said <script>alert(1)</script>'
    answer = Answer(
        question="q",
        answered=True,
        sentences=[
            AnswerSentence("Russia <b>captured</b> it.", [1], 1, 0, 10, stance="claim"),
            AnswerSentence(evil, [2], 2, 0, 10, stance="denial"),
        ],
        sources=[
            Source(
                1, "T<1>", "TASS & co", "2025-06-26", 'https://tass.com/a?b=1&c="2"', 1, 1, None
            ),
            Source(2, "Kyiv", "UNN", None, "javascript:alert(1)", 2, 2, None),
        ],
        disagreement=True,
        notice="Newest <report>",
    )
    html = render_answer(answer)
    plain, entities = parse_formatted_text(html, "HTML")
    assert "Sources disagree" in plain
    assert "Claim: Russia <b>captured</b> it. [1, 2025-06-26]" in plain
    assert "Denial: " + evil + " [2]" in plain  # an undated report shows its number alone
    assert [e["url"] for e in entities if e["type"] == "text_link"] == [
        'https://tass.com/a?b=1&c="2"'
    ]
    assert "javascript" not in html  # unsafe link dropped, title kept as text
    assert "&#" not in html  # only the four escapes Telegram needs
    parse_formatted_text(render_sources(answer), "HTML")
    assert escape("<&\">'") == "&lt;&amp;&quot;&gt;'"


def test_answer_cache_is_bounded_lru() -> None:
    cache = AnswerCache(size=3)
    keys = [cache.put(Answer(question=str(i), answered=True)) for i in range(3)]
    assert all(len(f"more:{k}".encode()) <= 64 for k in keys)
    assert cache.get(keys[0]) is not None  # now the most recently used
    cache.put(Answer(question="new", answered=True))
    assert cache.get(keys[1]) is None and cache.get(keys[0]) is not None and len(cache) == 3


def test_feeds_add_list_remove_and_validate(store: Store) -> None:
    feeds = AlertStore(store)
    feed_id, new = add_feed(feeds, "https://example.org/rss.xml", "1001")
    assert new and add_feed(feeds, "https://example.org/rss.xml") == (feed_id, False)
    for bad in ("ftp://example.org/x", "example.org/rss", "https://", "http://a b/"):
        with pytest.raises(FeedError):
            add_feed(feeds, bad)
    assert [f["url"] for f in feeds.list_feeds()] == ["https://example.org/rss.xml"]
    assert feeds.remove_feed(feed_id) and not feeds.remove_feed(feed_id)
    assert feeds.list_feeds() == []
    assert feeds.list_feeds(include_inactive=True)[0]["active"] == 0
    assert add_feed(feeds, "https://example.org/rss.xml") == (feed_id, True)


def test_file_url_derived_from_api_url() -> None:
    assert file_api_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_api_url("http://127.0.0.1:81/bot") == "http://127.0.0.1:81/file/bot"


# ------------------------------------------------------------------------------ private chat


async def test_private_question_sources_more_and_expired(
    fake: FakeBotAPI, sample_service: Service
) -> None:
    async with running(fake, sample_service) as app:
        answer = await say(fake, ALICE, ALICE, LITHIUM)
        to_alice = [c for c in fake.sent if c.chat_id == ALICE]
        assert [c.method for c in to_alice[:2]] == ["sendChatAction", "sendMessage"]
        assert to_alice[0].params["action"] == "typing" and to_alice[1] == answer
        assert answer.parse_mode == "HTML"
        assert "Shevchenko" in answer.plain_text
        # Each quoted sentence carries its report's date; the newest one quoted is from
        # June 2025, months before the sample's newest report, and the answer says so.
        assert re.search(r"\[1, 2025-\d\d-\d\d\]", answer.plain_text)
        assert "the newest I have is from 2025-12-02." in answer.plain_text
        assert "https://www.kyivpost.com/post/45044" in links(answer)
        keys = buttons(answer)
        assert set(keys) == {"Sources", "More", "👍", "👎"}

        since = len(fake.sent)
        fake.press_button(ALICE, ALICE, answer.message_id, keys["Sources"])
        full = await reply_to(fake, ALICE, since)
        assert full.plain_text.startswith("Sources for this answer")
        assert "Kyiv Post" in full.plain_text and "https://www.kyivpost.com/post/45044" in links(
            full
        )
        assert replied_id(full) == answer.message_id

        since = len(fake.sent)
        fake.press_button(ALICE, ALICE, answer.message_id, keys["More"])
        more = await reply_to(fake, ALICE, since)
        assert more.plain_text.startswith("More passages") and len(more.plain_text) > 200
        assert len(fake.calls("answerCallbackQuery")) == 2

        # Another worker gave the answer (or this one restarted): the button still works.
        state(app).answers = AnswerCache()
        since = len(fake.sent)
        fake.press_button(ALICE, ALICE, answer.message_id, keys["Sources"])
        again = await reply_to(fake, ALICE, since)
        assert again.plain_text == full.plain_text

        since = len(fake.sent)
        fake.press_button(ALICE, ALICE, answer.message_id, "src:gone123", check_button=False)
        expired = await fake.wait_for_async(
            lambda c: c.method == "answerCallbackQuery", since=since, timeout=10
        )
        assert expired.params["text"] == EXPIRED and expired.params["show_alert"] == "true"

        refusal = await say(fake, ALICE, ALICE, OUT_OF_SCOPE)
        assert "/sources" in refusal.plain_text and "don't" in refusal.plain_text
        assert refusal.reply_markup is None

        disputed = await say(fake, ALICE, ALICE, DISPUTED)
        assert "Sources disagree" in disputed.plain_text
        assert "Claim:" in disputed.plain_text and "Denial:" in disputed.plain_text
        assert "2025-12-02]" in disputed.plain_text and "newest I have" not in disputed.plain_text
    assert_clean(fake)


async def test_commands_and_bad_questions(fake: FakeBotAPI, sample_service: Service) -> None:
    async with running(fake, sample_service):
        start = await say(fake, BOB, BOB, "/start")
        assert "Pokrovsk" in start.plain_text and "/ask" in start.plain_text
        helped = await say(fake, BOB, BOB, "/help")
        assert "/sources" in helped.plain_text and "/reindex" not in helped.plain_text
        admin_help = await say(fake, ADMIN, ADMIN, "/help")
        assert "/reindex" in admin_help.plain_text and "/addfeed" in admin_help.plain_text

        found = await say(fake, BOB, BOB, "/sources Myrnohrad")
        assert "Myrnohrad" in found.plain_text and links(found)
        newest = await say(fake, BOB, BOB, "/sources")
        assert (
            newest.plain_text.startswith("The newest reports") and "2025-12-02" in newest.plain_text
        )
        latest = await say(fake, BOB, BOB, "/latest")
        assert "RFE/RL" in latest.plain_text and len(links(latest)) >= 5
        about = await say(fake, BOB, BOB, "/about")
        assert "Reports: 47" in about.plain_text and "2024-02-14 to 2025-12-02" in about.plain_text
        assert "multilingual-e5-small" in about.plain_text and "built 20" in about.plain_text

        usage = await say(fake, BOB, BOB, "/ask")
        assert "/ask" in usage.plain_text
        asked = await say(fake, BOB, BOB, f"/ask {AVDIIVKA}")
        assert "Avdiivka" in asked.plain_text and "[1]" in asked.plain_text
        bad_filter = await say(fake, BOB, BOB, "since:yesterday Pokrovsk")
        assert (
            bad_filter.plain_text == "Sorry: since:yesterday is not a date (use since:2025-01-31)"
        )
        blank = await say(fake, BOB, BOB, " \n\t ")
        assert "question" in blank.plain_text
        too_long = await say(fake, BOB, BOB, "Pokrovsk? " * 150)
        assert "1,000 characters" in too_long.plain_text
        unknown = await say(fake, BOB, BOB, "/frobnicate now")
        assert "/frobnicate" in unknown.plain_text and "/help" in unknown.plain_text
    assert_clean(fake)


async def test_commands_menu_admin_scope_only_for_admins(
    fake: FakeBotAPI, sample_service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    # 4242 is an admin who never opened a chat with the bot: Telegram refuses that scope.
    async with running(fake, sample_service, admin_ids=frozenset({ADMIN, 4242})):
        helped = [await say(fake, user, user, "/help") for user in (ALICE, ADMIN)]
    public = ["ask", "sources", "latest", "about", "trend", "language", "help", "start",
              "subscribe", "subscriptions", "unsubscribe", "digest", "quiet"]  # fmt: skip
    admin = [*public, "reindex", "ingest", "addfeed", "feeds", "removefeed", "stats",
             "alertstatus"]  # fmt: skip
    assert [c["command"] for c in fake.commands_for() or []] == public
    menu = fake.commands_for({"type": "chat", "chat_id": ADMIN})
    assert [c["command"] for c in menu or []] == admin
    assert fake.commands_for({"type": "chat", "chat_id": ALICE}) is None
    scopes = {key for key, _ in fake.commands}
    assert scopes == {'{"type":"default"}', f'{{"chat_id":{ADMIN},"type":"chat"}}'}
    assert "could not set the admin menu for 4242" in caplog.text
    # /help lists what the menus list, in the same order: both come from one table.
    listed = [re.findall(r"^/(\w+) — ", c.plain_text, re.MULTILINE) for c in helped]
    assert listed == [public, admin]


# ------------------------------------------------------------------------------ groups


async def test_group_answers_only_when_addressed(fake: FakeBotAPI, sample_service: Service) -> None:
    async with running(fake, sample_service):
        chatter = fake.send_text(GROUP, ALICE, "anyone seen the news about Pokrovsk today?")
        fake.send_text(GROUP, BOB, f"@{BOT_USERNAME} {LITHIUM}")
        mentioned = await reply_to(fake, GROUP, 0)
        await fake.wait_delivered_async(chatter)
        asked = [m for m in fake.chat_history(GROUP) if m["from"]["id"] == BOB]
        assert replied_id(mentioned) == asked[0]["message_id"]  # the mention, not the chatter
        assert "Shevchenko" in mentioned.plain_text and "[1]" in mentioned.plain_text
        assert f"@{BOT_USERNAME}" not in mentioned.plain_text

        reply = await say(fake, GROUP, ALICE, AVDIIVKA, reply_to_message_id=mentioned.message_id)
        assert "Avdiivka" in reply.plain_text

        other_bot = fake.send_text(GROUP, ALICE, f"/ask@some_other_bot {MYRNOHRAD}")
        user_msgs = [m for m in fake.chat_history(GROUP) if m["from"]["id"] == ALICE]
        fake.send_text(
            GROUP, BOB, "I agree with Alice", reply_to_message_id=user_msgs[0]["message_id"]
        )
        fake.send_text(GROUP, ALICE, f"email me at x@{BOT_USERNAME}.org please")
        fake.send_text(GROUP, BOB, "/reindex@some_other_bot full")
        command = await say(fake, GROUP, ALICE, f"/ask@{BOT_USERNAME} {MYRNOHRAD}")
        assert "Myrnohrad" in command.plain_text
        await fake.wait_delivered_async(other_bot)
        usage = await say(fake, GROUP, BOB, "/ask")
        assert "/ask" in usage.plain_text
        await quiet(fake)

    bot_messages = fake.messages_to(GROUP)
    assert [c.message_id for c in bot_messages] == [
        mentioned.message_id,
        reply.message_id,
        command.message_id,
        usage.message_id,
    ]
    assert all(replied_id(c) is not None for c in bot_messages)  # quoted, as groups need
    assert_clean(fake)


# ------------------------------------------------------------------------------ admin


def manifest_bytes(service: Service) -> bytes:
    return service.vectors.manifest_path().read_bytes()


async def test_admin_commands_refused_for_others(fake: FakeBotAPI, sample_service: Service) -> None:
    before = manifest_bytes(sample_service)
    async with running(fake, sample_service):
        for text in ["/reindex", "/reindex full", "/ingest https://example.org/a", "/stats"]:
            refused = await say(fake, ALICE, ALICE, text)
            assert "only for the bot's administrators" in refused.plain_text
        refused = await say(fake, GROUP, BOB, f"/addfeed@{BOT_USERNAME} https://example.org/f")
        assert "/addfeed is only for" in refused.plain_text
        await quiet(fake, 0.5)
        stats = await say(fake, ADMIN, ADMIN, "/stats")
        assert "questions: 0" in stats.plain_text and "reindex running: no" in stats.plain_text
    assert manifest_bytes(sample_service) == before
    assert sample_service.counters.last_reindex is None
    assert AlertStore(sample_service.store).list_feeds(include_inactive=True) == []
    assert_clean(fake)


async def test_reindex_in_background_while_chats_keep_asking(
    fake: FakeBotAPI, sample_service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    real_reindex = sample_service.reindex

    def held_reindex(full: bool = False, progress: Callable[[int, int], None] | None = None):
        # Holds the real build after it has embedded everything and before it swaps the new
        # index in, so the questions below are certainly answered while it runs.
        def report(done: int, total: int) -> None:
            if progress:
                progress(done, total)
            gate.wait(30)

        return real_reindex(full, report)

    monkeypatch.setattr(sample_service, "reindex", held_reindex)
    before = json.loads(manifest_bytes(sample_service))
    async with running(fake, sample_service) as app:
        state(app).progress_every = 0.2
        status = await say(fake, ADMIN, ADMIN, "/reindex full")
        assert status.plain_text.startswith("Reindexing (full rebuild)")
        # The first report comes after the whole batch, sentences included: on a busy
        # machine that can take a while, so the bound is generous.
        deadline = time.monotonic() + 120
        while state(app).reindex is None or state(app).reindex.total == 0:
            assert time.monotonic() < deadline, "the reindex never reported progress"
            await asyncio.sleep(0.05)

        busy = await say(fake, ADMIN, ADMIN, "/reindex")
        assert busy.plain_text.startswith("A reindex is already running")
        assert "47/47 passages embedded" in busy.plain_text

        since = len(fake.sent)
        for question in QUESTIONS[:2]:
            for chat in (ALICE, BOB, CAROL):
                fake.send_text(chat, chat, question)
        await until(
            lambda: all(len(sent_to(fake, chat, since)) >= 2 for chat in (ALICE, BOB, CAROL)),
            what="two answers in each of the three chats",
        )
        answers = [c for c in fake.sent[since:] if c.method == "sendMessage"]
        assert len(answers) == 6 and all("[1]" in c.plain_text for c in answers)
        assert state(app).reindex is not None  # still running: answered from the current index
        await fake.wait_for_async(
            lambda c: c.method == "editMessageText" and "47/47" in (c.plain_text or ""),
            timeout=10,
        )
        gate.set()
        final = await fake.wait_for_async(
            lambda c: c.method == "editMessageText" and "finished" in (c.plain_text or ""),
            timeout=30,
        )
        await until(lambda: state(app).reindex is None, what="the reindex job to be released")
    assert final.message_id == status.message_id
    assert "47 passages embedded, 0 removed, 47 in the index" in final.plain_text
    assert all(a.time < final.time for a in answers)
    edits = fake.calls("editMessageText")
    assert all(e.message_id == status.message_id for e in edits)
    current = fake.message(ADMIN, status.message_id)
    assert current is not None and current["text"] == final.plain_text
    after = json.loads(manifest_bytes(sample_service))
    assert after["file"] != before["file"] and after["count"] == 47
    assert_clean(fake)  # no "message is not modified" among the edits


async def test_ingest_makes_a_page_answerable(fake: FakeBotAPI, sample_service: Service) -> None:
    page = (
        "<html><head><title>Zoria water plant near Udachne stops pumping</title></head><body>"
        "<article><h1>Zoria water plant near Udachne stops pumping</h1>"
        + "".join(
            f"<p>The Zoria filtration plant outside Udachne stopped pumping water on 3 March "
            f"2025 after drone strikes cut its power line, the district administration said "
            f"in update {i}. Engineers from Pokrovsk were unable to reach the site.</p>"
            for i in range(6)
        )
        + "</article></body></html>"
    )
    with LocalServer() as server:
        url = server.set("/zoria", page)
        async with running(fake, sample_service):
            refused = await say(fake, ALICE, ALICE, f"/ingest {url}")
            assert "administrators" in refused.plain_text
            assert server.hits("/zoria") == 0
            bad = await say(fake, ADMIN, ADMIN, "/ingest file:///etc/passwd")
            assert "Not an http(s) URL" in bad.plain_text
            # A URL from a chat may not reach this machine or its network, admins' included.
            since = len(fake.sent)
            fake.send_text(ADMIN, ADMIN, f"/ingest {url}")
            inside = await fake.wait_for_async(
                lambda c: c.method == "sendMessage" and "Ingest finished" in (c.plain_text or ""),
                since=since,
                timeout=30,
            )
            assert "failed 1" in inside.plain_text and "loopback address" in inside.plain_text
            assert server.hits("/zoria") == 0
            settings = sample_service.settings
            sample_service.settings = dataclasses.replace(settings, allow_private_urls=True)

            since = len(fake.sent)
            fake.send_text(ADMIN, ADMIN, f"/ingest {url} {server.url('/missing')}")
            report = await fake.wait_for_async(
                lambda c: c.method == "sendMessage" and "Ingest finished" in (c.plain_text or ""),
                since=since,
                timeout=30,
            )
            assert "added 1, updated 0, unchanged 0, failed 1" in report.plain_text
            assert "404" in report.plain_text and "Index: +" in report.plain_text

            answer = await say(
                fake, DAVE, DAVE, "What happened to the Zoria water plant near Udachne?"
            )
            assert "Zoria" in answer.plain_text and "[1]" in answer.plain_text
            assert url in links(answer)
    assert_clean(fake)


async def test_feed_commands(fake: FakeBotAPI, sample_service: Service) -> None:
    async with running(fake, sample_service):
        added = await say(fake, ADMIN, ADMIN, "/addfeed https://example.org/front.xml")
        assert added.plain_text == "Now following feed #1: https://example.org/front.xml"
        again = await say(fake, ADMIN, ADMIN, "/addfeed https://example.org/front.xml")
        assert again.plain_text.startswith("Already following feed #1")
        bad = await say(fake, ADMIN, ADMIN, "/addfeed ftp://example.org/<b>")
        assert bad.plain_text == "Sorry: a feed URL must start with http:// or https://"
        usage = await say(fake, ADMIN, ADMIN, "/addfeed")
        assert usage.plain_text.startswith("Usage: /addfeed <url>")
        listed = await say(fake, ADMIN, ADMIN, "/feeds")
        assert "#1 https://example.org/front.xml" in listed.plain_text
        removed = await say(fake, ADMIN, ADMIN, "/removefeed 1")
        assert removed.plain_text == "Stopped following feed #1."
        gone = await say(fake, ADMIN, ADMIN, "/removefeed 1")
        assert gone.plain_text == "No active feed #1."
        nonsense = await say(fake, ADMIN, ADMIN, "/removefeed one")
        assert nonsense.plain_text.startswith("Usage: /removefeed")
        empty = await say(fake, ADMIN, ADMIN, "/feeds")
        assert empty.plain_text.startswith("No feeds yet")
    rows = AlertStore(sample_service.store).list_feeds(include_inactive=True)
    assert [(r["id"], r["active"], r["added_by"]) for r in rows] == [(1, 0, str(ADMIN))]
    assert_clean(fake)


# ------------------------------------------------------------------------------ robustness


async def test_rate_limit_notice_once_per_window(fake: FakeBotAPI, sample_service: Service) -> None:
    async with running(fake, sample_service, questions_per_minute=3):
        since = len(fake.sent)
        for i in range(7):
            fake.send_text(CAROL, CAROL, QUESTIONS[i % len(QUESTIONS)])
        notice = await fake.wait_for_async(
            lambda c: c.method == "sendMessage" and "faster than" in (c.plain_text or ""),
            since=since,
            timeout=20,
        )
        other = await say(fake, DAVE, DAVE, LITHIUM)  # someone else is not affected
        await until(
            lambda: len([c for c in sent_to(fake, CAROL) if "[1]" in c.plain_text]) == 3,
            what="three answers to Carol",
        )
        await quiet(fake, 0.5)
    to_carol = fake.messages_to(CAROL)
    assert len(to_carol) == 4  # three answers and one notice; the rest ignored
    assert "at most 3 questions a minute" in notice.plain_text
    assert "[1]" in other.plain_text
    assert_clean(fake)


HOSTILE = [
    "<script>alert(1)</script> Pokrovsk",
    "<b>unclosed Myrnohrad",
    "&nbsp; &amp; &lt; &#x27; &#0; &unknown; Selydove",
    "*bold* _italic_ `code` [link](http://x.org) ~~s~~ ||spoiler|| \\ Kurakhove",
    'Pokrovsk"><a href="javascript:alert(1)">click</a>',
    "x" * 10_000,
    "Pokrovsk " * 1200,
    "🔥💥 Покровськ 🇺🇦 👨‍👩‍👧‍👦?",
    "ما الذي حدث في بوكروفسك؟",
    "מה קרה בפוקרובסק?",
    "\u200b\u200c\u200d\u2060\ufeff",
    "Pok\u200brovsk\u200d Myrno\u2060hrad",
    "\u202eevil override Pokrovsk",
    "   \n\t  ",
    "\ud83d lone surrogate Pokrovsk",
    "/sources <b>&amp;</b> \"'",
    "/ask <i>Myrnohrad</i> & <u>",
    "since:<b>yesterday</b> Pokrovsk",
]


async def test_hostile_input_never_breaks_a_handler(
    fake: FakeBotAPI, sample_service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(fake, sample_service, questions_per_minute=1000):
        since = len(fake.sent)
        for text in HOSTILE:
            fake.send_text(ALICE, ALICE, text)
        for text in HOSTILE[:6]:
            fake.send_text(GROUP, BOB, f"@{BOT_USERNAME} {text}")
        await until(
            lambda: (
                len(sent_to(fake, ALICE, since)) + len(sent_to(fake, GROUP, since))
                >= len(HOSTILE) + 6
            ),
            timeout=30,
            what="one reply to each hostile message",
        )
        await quiet(fake, 0.5)
    replies = [c for c in fake.sent[since:] if c.method == "sendMessage"]
    assert len(fake.messages_to(ALICE)) == len(HOSTILE) and len(fake.messages_to(GROUP)) == 6
    for call in replies:
        assert call.parse_mode == "HTML" and utf16_len(call.plain_text) <= 4096
        assert "<script>" not in call.text
    plain = [c.plain_text for c in fake.messages_to(ALICE)]
    assert any("10,000 characters" in p for p in plain)
    assert any(p.startswith("Sorry: since:<b>yesterday</b>") for p in plain)  # shown as text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert_clean(fake)


async def test_429_is_retried_and_the_answer_arrives(
    fake: FakeBotAPI, sample_service: Service
) -> None:
    async with running(fake, sample_service):
        fake.fail_next("sendMessage", code=429, retry_after=1)
        started = time.monotonic()
        answer = await say(fake, ALICE, ALICE, LITHIUM)
    assert "[1]" in answer.plain_text and time.monotonic() - started >= 1
    assert [(r.method, r.error_code, r.injected) for r in fake.rejected] == [
        ("sendMessage", 429, True)
    ]
    assert fake.internal_errors == []


async def test_error_handler_logs_then_apologises_without_the_token(
    fake: FakeBotAPI,
    sample_service: Service,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(question: str) -> Answer:
        raise RuntimeError("boom: the index exploded")

    monkeypatch.setattr(sample_service, "ask", broken)
    caplog.set_level(logging.DEBUG)
    async with running(fake, sample_service):
        sorry = await say(fake, ALICE, ALICE, LITHIUM)
        fine = await say(fake, ALICE, ALICE, "/about")  # the bot carries on
    assert sorry.plain_text == SORRY and "boom" not in sorry.plain_text
    assert "Reports: 47" in fine.plain_text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and errors[0].exc_info is not None
    assert "Traceback" in caplog.text and "RuntimeError: boom" in caplog.text
    secret = TOKEN.split(":", 1)[1]
    assert secret not in caplog.text
    assert all(secret not in r.getMessage() for r in caplog.records)
    assert "bot<token>" in caplog.text  # the library's URL lines were kept, token masked
    assert not [m for m in fake.sent if secret in (m.text or "")]


async def test_scripted_conversation_only_valid_html(
    fake: FakeBotAPI, sample_service: Service
) -> None:
    async with running(fake, sample_service):
        first = await say(fake, DAVE, DAVE, "/start")
        script: list[tuple[int, int, str]] = [
            (DAVE, DAVE, "/help"),
            (DAVE, DAVE, LITHIUM),
            (DAVE, DAVE, "What happened near Pokrovsk in August 2024?"),
            (DAVE, DAVE, DISPUTED),
            (DAVE, DAVE, "/sources Kurakhove"),
            (DAVE, DAVE, "/latest"),
            (DAVE, DAVE, "/about"),
            (DAVE, DAVE, OUT_OF_SCOPE),
            (GROUP, ALICE, f"/ask@{BOT_USERNAME} {AVDIIVKA}"),
            (GROUP, BOB, f"@{BOT_USERNAME} Що сталося в Мирнограді?"),
            (DAVE, DAVE, "Krasnoarmeysk capture claim"),
            (DAVE, DAVE, "since:2025-11-01 Myrnohrad"),
        ]
        for chat, user, text in script:
            await say(fake, chat, user, text)
        answers = [c for c in fake.messages_to(DAVE) if buttons(c)]
        for call in answers[:2]:
            for label, data in buttons(call).items():
                since = len(fake.sent)
                fake.press_button(DAVE, DAVE, call.message_id, data)
                if label in ("Sources", "More"):
                    await reply_to(fake, DAVE, since)
                else:  # a vote is answered with a notice on the button, not a message
                    await fake.wait_for_async(
                        lambda c: c.method == "answerCallbackQuery", since=since
                    )
        sent = [c for c in fake.sent if c.method in ("sendMessage", "editMessageText")]
    assert first.plain_text and len(sent) >= 15
    for call in sent:
        assert call.parse_mode == "HTML"
        plain, _ = parse_formatted_text(call.text, "HTML")
        assert 0 < utf16_len(plain) <= 4096
    assert_clean(fake)


# ------------------------------------------------------------------------------ webhook


async def test_webhook_checks_the_secret_token(fake: FakeBotAPI, sample_service: Service) -> None:
    port, secret = free_port(), "s3cret-Token_1"
    settings = dataclasses.replace(
        sample_service.settings,
        telegram_bot_token=TOKEN,
        telegram_api_url=fake.base_url,
        webhook_url=f"https://127.0.0.1:{port}/hook",
        webhook_secret=secret,
    )
    app = build_application(sample_service, settings, request=loopback_request())

    def update(update_id: int, text: str) -> dict[str, Any]:
        user = {"id": ALICE, "is_bot": False, "first_name": "Alice"}
        chat = {"id": ALICE, "type": "private", "first_name": "Alice"}
        message = {"message_id": 9000 + update_id, "from": user, "chat": chat, "text": text}
        return {"update_id": update_id, "message": {**message, "date": int(time.time())}}

    settings = dataclasses.replace(settings, webhook_listen="127.0.0.1", webhook_port=port)
    async with webhook.serving(app, settings, ALLOWED_KINDS):
        url = f"http://127.0.0.1:{port}/hook"
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            wrong = await http.post(
                url,
                json=update(1, LITHIUM),
                headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
            )
            missing = await http.post(url, json=update(2, LITHIUM))
            since = len(fake.sent)
            good = await http.post(
                url,
                json=update(3, LITHIUM),
                headers={"X-Telegram-Bot-Api-Secret-Token": secret},
            )
            answer = await reply_to(fake, ALICE, since)
            await quiet(fake, 0.3)
    assert (wrong.status_code, missing.status_code, good.status_code) == (403, 403, 200)
    assert fake.webhook_url == settings.webhook_url
    assert fake.calls("setWebhook")[0].params["secret_token"] == secret
    assert "[1]" in answer.plain_text and "Shevchenko" in answer.plain_text
    assert len(fake.messages_to(ALICE)) == 1  # the two refused posts were never handled
    assert_clean(fake)


async def test_a_lost_database_still_gets_a_reply_in_the_readers_language(
    fake: FakeBotAPI, sample_service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    oksana = 7700
    fake.add_private_chat(oksana, "Oksana", "oksana", language_code="uk")
    async with running(fake, sample_service):
        sample_service.store.db.conn.close()  # the store fails under the running bot
        with caplog.at_level(logging.ERROR, logger="sectorbot.bot.telegram.app"):
            reply = await say(fake, oksana, oksana, "Що сталося з водою в Мирнограді?")
        assert reply.plain_text.startswith("Вибачте, зараз я не можу дістатися")
    failures = [r for r in caplog.records if "database failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is None
    assert "\n" not in failures[0].getMessage()
    assert not [r for r in caplog.records if "error handler" in r.getMessage().lower()]
    assert fake.rejected == [] and fake.internal_errors == []
