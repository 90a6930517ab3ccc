"""A scripted run of group-chat alerts, printed as a transcript (docs/alerts.md shows one).

    .venv/bin/python -m bench.demo_alerts

Everything is real except the network peers: the feed is served by a local HTTP server and
Telegram is the fake Bot API of the tests, both on 127.0.0.1. The CLI commands run in-process
on the same data directory; the bot is the PTB Application of `bot.telegram` with the
alert commands of `bot.telegram_alerts`. Polls are triggered explicitly here (the bot's poll job
would do the same every `SECTORBOT_POLL_INTERVAL` seconds).
"""

from __future__ import annotations

import asyncio
import email.utils
import html
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from click.testing import CliRunner
from telegram.ext import Application

from sectorbot.bot.alerts.runtime import AlertsRuntime
from sectorbot.bot.cli.main import cli
from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings
from sectorbot.bot.telegram.alert_transport import TelegramTransport
from sectorbot.bot.telegram.app import ALLOWED_KINDS, build_application
from tests.fakebotapi import BOT_USERNAME, TOKEN, FakeBotAPI, loopback_request, polling
from tests.httpserver import LocalServer

ADMIN, ALICE, BOB = 1001, 2001, 2002
GROUP = -1001234567890
FILLER = (
    "Local officials gave further details about the situation in the area, the roads and "
    "the people who remain there, and said they would report again when they knew more. "
) * 4
PUBLISHED = email.utils.formatdate(usegmt=True)


def rss(entries: list[tuple[str, str, str]]) -> str:
    """An RSS feed of (title, link, text) entries."""
    items = "".join(
        f"<item><title>{html.escape(t)}</title><link>{html.escape(u)}</link>"
        f"<guid>{html.escape(u)}</guid><pubDate>{PUBLISHED}</pubDate>"
        f"<description>{html.escape(x + ' ' + FILLER)}</description></item>"
        for t, u, x in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Donbas Wire</title><link>http://127.0.0.1/</link><description>demo</description>"
        f"{items}</channel></rss>"
    )


def step(text: str) -> None:
    print(f"\n## {text}\n")


def run_cli(data: Path, *args: str) -> None:
    """Run a `sectorbot` command in-process and print it with its output."""
    env = {"SECTORBOT_DATA_DIR": str(data), "SECTORBOT_LOG_LEVEL": "WARNING"}
    result = CliRunner().invoke(cli, list(args), env=env)
    print(f"$ sectorbot {' '.join(args)}")
    print(result.stdout.rstrip())  # stderr holds the model's loading chatter


@asynccontextmanager
async def bot(
    api: FakeBotAPI, service: Service, settings: Settings
) -> AsyncIterator[tuple[Application, AlertsRuntime]]:
    """The bot with alerts, long-polling the fake server; jobs left to explicit calls."""
    app = build_application(
        service,
        settings,
        request=loopback_request(),
        get_updates_request=loopback_request(1),
        alert_ticks={"poll_tick": 3600, "send_tick": 3600},
    )
    runtime = app.bot_data.alerts  # made by build_application
    async with polling(app, ALLOWED_KINDS):
        yield app, runtime


async def say(api: FakeBotAPI, chat: int, user: int, name: str, text: str) -> None:
    """A user writes in a chat; print it and the bot's reply."""
    since = len(api.sent)
    api.send_text(chat, user, text)
    reply = await api.wait_for_async(
        lambda c: c.method == "sendMessage" and c.chat_id == chat, timeout=30, since=since
    )
    print(f"{name}: {text}")
    print("bot: " + (reply.plain_text or "").replace("\n", "\n     "))


def alerts_in_group(api: FakeBotAPI) -> list[str]:
    return [c.plain_text or "" for c in api.messages_to(GROUP) if "🔔" in (c.text or "")]


async def poll_and_send(runtime: AlertsRuntime, api: FakeBotAPI, app_bot: object) -> None:
    """One poll round and one send round, printed."""
    since = len(api.sent)
    report = await runtime.poll_once(force=True)
    assert report is not None
    print(f"poll: {report.summary()}")
    for feed in report.feeds:
        print(
            f"  feed {feed.feed_id}: {feed.status}, {len(feed.added)} new, {feed.updated} updated"
        )
    sent = await runtime.send_once(TelegramTransport(app_bot))
    print(f"send: {sent.messages} message(s), {sent.alerts} alert(s)")
    for call in api.sent[since:]:
        if call.method == "sendMessage" and "🔔" in (call.text or ""):
            print(f"\nbot → group {call.chat_id}:")
            print("    " + (call.plain_text or "").replace("\n", "\n    "))
            links = [e["url"] for e in call.entities if e["type"] == "text_link"]
            print(f"    (links: {', '.join(links)})")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeBotAPI() as api, LocalServer() as web:
        data = Path(tmp) / "data"
        api.add_private_chat(ADMIN, "Ada", "ada")
        api.add_group(GROUP, "Pokrovsk watchers", {ALICE: "administrator", BOB: "member"})
        settings = Settings(
            data_dir=data,
            telegram_bot_token=TOKEN,
            telegram_api_url=api.base_url,
            admin_ids=frozenset({ADMIN}),
        )
        calm = ("Calm night in Kyiv region", web.url("/news/calm"), "No strikes were reported.")
        feed = web.set("/feed.xml", rss([calm]), "application/rss+xml", {"ETag": '"v1"'})

        step("1. An operator adds a feed; its first poll stores the backlog without alerts")
        run_cli(data, "feeds", "add", feed)
        run_cli(data, "poll")

        step("2. The bot runs; in the group, a member and then an administrator subscribe")
        service = Service(settings)
        async with bot(api, service, settings) as (app, runtime):
            await say(api, GROUP, BOB, "Bob (member)", "/subscribe Myrnohrad")
            await say(api, GROUP, ALICE, "Alice (admin)", f"/subscribe@{BOT_USERNAME} Myrnohrad")
            await say(api, GROUP, ALICE, "Alice (admin)", "/subscriptions")

            step("3. The feed gains an entry mentioning «Мирноград»")
            news = (
                "Police: about 3,000 people remain in Мирноград",
                web.url("/news/myrnohrad-3000"),
                "Поліція повідомила, що у Мирнограді лишилося близько 3000 людей, "
                "а російські війська за два кілометри від міста.",
            )
            web.set("/feed.xml", rss([calm, news]), "application/rss+xml", {"ETag": '"v2"'})
            await poll_and_send(runtime, api, app.bot)
        service.close()
        print(f"\nalert messages in the group so far: {len(alerts_in_group(api))}")

        step("4. The bot restarts (new Service and Application, same data directory)")
        service = Service(settings)
        print(f"bot stopped; started again over {data.name}/ (the same store)")
        async with bot(api, service, settings) as (app, runtime):
            step("5. The same entry again: same URL, and the same text under another URL")
            mirror = (news[0], web.url("/mirror/myrnohrad-3000"), news[2])
            web.set("/feed.xml", rss([calm, news, mirror]), "application/rss+xml", {"ETag": '"v3"'})
            await poll_and_send(runtime, api, app.bot)
            print("\nunchanged feed (ETag answered with 304):")
            await poll_and_send(runtime, api, app.bot)
            print(f"\nalert messages in the group: {len(alerts_in_group(api))}")
            step("6. What the operator sees")
            await say(api, ADMIN, ADMIN, "Ada (bot admin)", "/alertstatus")
        service.close()
        run_cli(data, "feeds", "list")


if __name__ == "__main__":
    started = time.perf_counter()
    asyncio.run(main())
    print(f"\n(demo finished in {time.perf_counter() - started:.1f} s)")
