"""Hostile input at the bot's door: the webhook server and updates the library cannot read.

The real PTB stack and our tornado webhook server on 127.0.0.1, the fake Bot API behind them,
a store without reports (the bot answers that it has none: an answer all the same) and the
hash embedder (no model). Each test posts what a stranger, or a changed Telegram, could send.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings
from sectorbot.bot.telegram import webhook
from sectorbot.bot.telegram.app import ALLOWED_KINDS, build_application
from tests.conftest import free_port
from tests.fakebotapi import TOKEN, FakeBotAPI, loopback_request
from tests.test_telegram import ADMIN, ALICE, BOB, LITHIUM, assert_clean, running, sent_to, until
from tests.test_telegram import _no_proxies as _no_proxies  # autouse: talk to 127.0.0.1 only

SECRET = "hook-Secret_1"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
MAX_BODY = 20_000
# A message the library cannot parse: no chat, no date (an older or newer Telegram's shape).
BROKEN_MESSAGE = {"message_id": 7, "text": "PAYLOAD-MARKER " * 40}


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        api.add_private_chat(ADMIN, "Ada", "ada")
        api.add_private_chat(ALICE, "Alice", "alice")
        api.add_private_chat(BOB, "Bob", "bob")
        yield api
    assert api.internal_errors == []


@pytest.fixture
def service(database_target: str, tmp_path: Path, hash_embedder: object) -> Iterator[Service]:
    """An empty store on each backend in turn."""
    url = database_target if database_target.startswith("postgres") else None
    svc = Service(Settings(data_dir=tmp_path / "data", database_url=url))
    yield svc
    svc.close()


@pytest.fixture
def sqlite_service(tmp_path: Path, hash_embedder: object) -> Iterator[Service]:
    svc = Service(Settings(data_dir=tmp_path / "data"))
    yield svc
    svc.close()


def update(update_id: Any, user: int, text: str) -> dict[str, Any]:
    sender = {"id": user, "is_bot": False, "first_name": f"User{user}"}
    chat = {"id": user, "type": "private", "first_name": f"User{user}"}
    message = {"message_id": 9000, "from": sender, "chat": chat, "text": text,
               "date": int(time.time())}  # fmt: skip
    return {"update_id": update_id, "message": message}


@asynccontextmanager
async def hooked(fake: FakeBotAPI, service: Service) -> AsyncIterator[str]:
    """The bot serving its webhook on a free port; the URL to post to."""
    port = free_port()
    settings = dataclasses.replace(
        service.settings, telegram_bot_token=TOKEN, telegram_api_url=fake.base_url,
        webhook_url=f"https://127.0.0.1:{port}/hook", webhook_listen="127.0.0.1",
        webhook_port=port, webhook_secret=SECRET, webhook_max_body=MAX_BODY,
    )  # fmt: skip
    app = build_application(service, settings, request=loopback_request())
    async with webhook.serving(app, settings, ALLOWED_KINDS):
        yield f"http://127.0.0.1:{port}/hook"


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(trust_env=False, timeout=10)


async def raw_request(url: str, head: str, body: bytes = b"") -> int:
    """Send a request by hand (a declared length the body never reaches); the status."""
    parts = httpx.URL(url)
    reader, writer = await asyncio.open_connection(parts.host, parts.port)
    try:
        writer.write(head.encode() + b"\r\n" + body)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
    return int(line.split()[1])


async def test_the_webhook_refuses_before_reading_the_body(
    fake: FakeBotAPI, sqlite_service: Service
) -> None:
    async with hooked(fake, sqlite_service) as url:
        # 90 MB declared and never sent: refused on the headers alone, without the secret too.
        big = "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        assert await raw_request(url, big + "Content-Length: 90000000\r\n") == 403
        secret = f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n"
        assert await raw_request(url, big + secret + "Content-Length: 90000000\r\n") == 413
        chunk = b"%x\r\n%s\r\n" % (MAX_BODY, b" " * MAX_BODY)  # chunked: no declared length
        chunked = big + secret + "Transfer-Encoding: chunked\r\n"
        assert await raw_request(url, chunked, chunk * 3) == 413
        async with client() as http:
            body = update(1, ALICE, LITHIUM)
            wrong = await http.post(url, json=body, headers={**HEADERS, "X-Telegram-Bot-Api-"
                                    "Secret-Token": SECRET + "x"})  # fmt: skip
            missing = await http.post(url, json=body)
            elsewhere = await http.post(url.replace("/hook", "/other"), json=body, headers=HEADERS)
            fetched = await http.get(url, headers=HEADERS)
            assert (wrong.status_code, missing.status_code) == (403, 403)
            assert (elsewhere.status_code, fetched.status_code) == (404, 405)
            good = await http.post(url, json=body, headers=HEADERS)
            assert good.status_code == 200
            await until(lambda: len(sent_to(fake, ALICE)) == 1, what="the answer")
    assert fake.calls("setWebhook")[0].params["secret_token"] == SECRET
    assert_clean(fake)


async def test_past_the_limit_of_requests_at_once_the_webhook_answers_503(
    fake: FakeBotAPI, sqlite_service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhook, "MAX_REQUESTS", 1)
    async with hooked(fake, sqlite_service) as url:
        parts = httpx.URL(url)
        _, slow = await asyncio.open_connection(parts.host, parts.port)  # a body that dawdles
        slow.write(f"POST /hook HTTP/1.1\r\nHost: x\r\nX-Telegram-Bot-Api-Secret-Token: "
                   f"{SECRET}\r\nContent-Length: 100\r\n\r\n{{".encode())  # fmt: skip
        await slow.drain()
        await asyncio.sleep(0.2)
        async with client() as http:
            busy = await http.post(url, json=update(1, ALICE, LITHIUM), headers=HEADERS)
            slow.close()
            await asyncio.sleep(0.2)
            free = await http.post(url, json=update(2, ALICE, LITHIUM), headers=HEADERS)
    assert (busy.status_code, free.status_code) == (503, 200)


@pytest.mark.parametrize("bad", ["abc", 10**30, -5, True, None, 1.5])
async def test_update_ids_telegram_cannot_send_are_refused_in_one_line(
    fake: FakeBotAPI, service: Service, bad: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with hooked(fake, service) as url, client() as http:
        refused = await http.post(url, json=update(bad, ALICE, LITHIUM), headers=HEADERS)
        good = await http.post(url, json=update(5, BOB, LITHIUM), headers=HEADERS)
        await until(lambda: len(sent_to(fake, BOB)) == 1, what="the good update's answer")
    assert (refused.status_code, good.status_code) == (400, 200)
    lines = [r for r in caplog.records if "invalid id" in r.getMessage()]
    assert len(lines) == 1 and len(lines[0].getMessage()) < 120
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert sent_to(fake, ALICE) == []


def skipped_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "could not be read" in r.getMessage()]


async def test_an_update_the_library_cannot_read_is_skipped_when_polling(
    fake: FakeBotAPI, sqlite_service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running(fake, sqlite_service):
        broken = fake.add_update("message", BROKEN_MESSAGE)
        since = len(fake.sent)
        fake.send_text(ALICE, ALICE, LITHIUM)
        await until(lambda: len(sent_to(fake, ALICE, since)) == 1, what="the question's answer")
        await until(lambda: fake.updates_pending() == 0, what="the offset past both")
    lines = skipped_lines(caplog)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"update {broken} could not be read") and len(lines[0]) < 300
    assert "PAYLOAD-MARKER" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert_clean(fake)


async def test_an_update_the_library_cannot_read_is_skipped_at_the_webhook(
    fake: FakeBotAPI, sqlite_service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with (
        hooked(fake, sqlite_service) as url,
        client() as http,
    ):
        broken = {"update_id": 41, "message": BROKEN_MESSAGE}
        skipped = await http.post(url, json=broken, headers=HEADERS)
        asked = await http.post(url, json=update(42, ALICE, LITHIUM), headers=HEADERS)
        await until(lambda: len(sent_to(fake, ALICE)) == 1, what="the question's answer")
    assert (skipped.status_code, asked.status_code) == (200, 200)  # 200: no retries of it
    lines = skipped_lines(caplog)
    assert len(lines) == 1 and lines[0].startswith("update 41 could not be read"), lines
    assert "PAYLOAD-MARKER" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_accepted_update_is_stored_until_it_is_handled(
    fake: FakeBotAPI, service: Service
) -> None:
    async with hooked(fake, service) as url, client() as http:
        body = update(77, ALICE, LITHIUM)
        assert (await http.post(url, json=body, headers=HEADERS)).status_code == 200
        await until(lambda: len(sent_to(fake, ALICE)) == 1, what="the answer")
        db = service.store.db
        await until(
            lambda: db.scalar("SELECT done FROM handled_updates WHERE update_id = 77"),
            what="the done mark",
        )
    stored = db.scalar("SELECT body FROM handled_updates WHERE update_id = 77")
    assert json.loads(stored) == body
