"""Alerts in Telegram: /subscribe and friends, and the jobs that poll feeds and send alerts.

`handlers()` are the alert commands for the bot's handler table; `register(app, service,
settings)` builds the alerts runtime and starts its jobs.
The poll job runs the blocking poll in a worker thread, so questions keep being answered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Bot, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, BaseHandler, CommandHandler, ContextTypes

from sectorbot.bot import subscriptions as subs
from sectorbot.bot.alerts import RETRY_BASE, Matcher, Sender, SendReport, outbox_status
from sectorbot.bot.poller import Poller, PollReport, feed_status
from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings
from sectorbot.bot.telegram_render import escape
from sectorbot.bot.telegram_reply import after_command, reply
from sectorbot.corpus.store import Store

log = logging.getLogger(__name__)

KEY = "alerts"
POLL_TICK = 30.0  # seconds between checks for due feeds (each feed has its own interval)
SEND_TICK = 5.0  # seconds between looks at the outbox
COMMANDS = [
    ("subscribe", "Alerts for places, keywords or topics in this chat"),
    ("subscriptions", "This chat's alert subscriptions"),
    ("unsubscribe", "Remove an alert subscription (number or 'all')"),
    ("digest", "At most one alert message every N hours, or 'off'"),
    ("quiet", "Quiet hours, e.g. 23-7 (UTC), or 'off'"),
]
ADMIN_COMMANDS = [("alertstatus", "Feeds, alert queue and deliveries")]
NOT_ALLOWED = "Only the group's administrators can change its alert subscriptions."

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


@dataclass
class AlertsRuntime:
    """The pieces the handlers and jobs share."""

    service: Service
    settings: Settings
    matcher: Matcher
    poller: Poller
    sender: Sender

    async def poll_once(self, force: bool = False) -> PollReport | None:
        """Poll the due feeds in a worker thread; None if a poll was already running."""
        return await asyncio.to_thread(self.poller.poll, None, force)

    async def send_once(self, bot: Bot) -> SendReport:
        """Send every due alert now."""
        return await self.sender.send_due(bot)


def register(
    app: Application,
    service: Service,
    settings: Settings,
    *,
    poll_tick: float = POLL_TICK,
    send_tick: float = SEND_TICK,
    retry_base: float = RETRY_BASE,
) -> AlertsRuntime:
    """Build the alerts runtime and start its jobs (a second call returns the first runtime)."""
    if KEY in app.bot_data:
        return app.bot_data[KEY]
    matcher = Matcher(service.store, service.embedder)
    runtime = AlertsRuntime(
        service, settings, matcher, Poller(service, matcher), Sender(service.store, retry_base)
    )
    app.bot_data[KEY] = runtime
    if app.job_queue is None:
        raise RuntimeError("alerts need python-telegram-bot's job queue (the [job-queue] extra)")
    app.job_queue.run_repeating(poll_job, interval=poll_tick, first=poll_tick, name="alerts-poll")
    app.job_queue.run_repeating(send_job, interval=send_tick, first=send_tick, name="alerts-send")
    return runtime


def handlers() -> list[BaseHandler]:
    """The alert commands, for the bot's handler table (ahead of its catch-alls)."""
    return [
        CommandHandler("subscribe", subscribe),
        CommandHandler("subscriptions", list_subscriptions),
        CommandHandler("unsubscribe", unsubscribe),
        CommandHandler("digest", digest),
        CommandHandler("quiet", quiet),
        CommandHandler("alertstatus", alertstatus),
    ]


def runtime_of(context: ContextTypes.DEFAULT_TYPE) -> AlertsRuntime:
    """The alerts runtime that `register` stored in the application."""
    return context.bot_data[KEY]


# jobs --------------------------------------------------------------------------------------


async def poll_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Poll due feeds off the event loop; send at once what the poll queued."""
    runtime = runtime_of(context)
    try:
        report = await runtime.poll_once()
        if report is not None and report.alerts:
            await runtime.send_once(context.bot)
    except Exception:  # a bad round must not stop the job; the next tick tries again
        log.exception("alert poll failed")


async def send_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the alerts whose time has come."""
    try:
        await runtime_of(context).send_once(context.bot)
    except Exception:
        log.exception("alert sending failed")


# commands ----------------------------------------------------------------------------------


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/subscribe places, keywords or `topic: ...` for this chat."""
    message, chat = await _managed(update, context)
    if message and chat:
        runtime = runtime_of(context)
        text = after_command(message.text or "")
        if not text.strip():
            await reply(message, subs.usage())
        else:
            user = update.effective_user
            result = await asyncio.to_thread(
                subs.subscribe,
                runtime.service.store,
                runtime.service.embedder,
                chat,
                user.id if user else None,
                text,
            )
            await reply(message, result.message())


async def list_subscriptions(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/subscriptions: the chat's subscriptions, numbered."""
    message, chat = update.effective_message, _chat_ref(update)
    if message and chat:
        await reply(message, subs.format_list(runtime_of(context).service.store, chat.chat_id))


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unsubscribe 2, /unsubscribe 1 3, /unsubscribe all."""
    message, chat = await _managed(update, context)
    if message and chat:
        store = runtime_of(context).service.store
        await reply(
            message, subs.unsubscribe(store, chat.chat_id, after_command(message.text or ""))
        )


async def digest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/digest 6 or /digest off."""
    message, chat = await _managed(update, context)
    if message and chat:
        store = runtime_of(context).service.store
        await reply(message, subs.set_digest(store, chat, after_command(message.text or "")))


async def quiet(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/quiet 23-7 (UTC), /quiet 23-7 +2, or /quiet off."""
    message, chat = await _managed(update, context)
    if message and chat:
        store = runtime_of(context).service.store
        await reply(message, subs.set_quiet(store, chat, after_command(message.text or "")))


async def alertstatus(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/alertstatus (bot admins): feeds, the alert queue and recent deliveries."""
    message, user = update.effective_message, update.effective_user
    runtime = runtime_of(context)
    if message:
        if user is None or user.id not in runtime.settings.admin_ids:
            await reply(message, "This command is for the bot's administrators.")
        else:
            await reply(message, render_status(runtime.service.store))


def render_status(store: Store, now: float | None = None) -> str:
    """The /alertstatus text, as Telegram HTML."""
    now = time.time() if now is None else now
    numbers = outbox_status(store, now)
    feeds = feed_status(store)
    lines = [f"<b>Feeds</b> ({len(feeds)})"]
    for feed in feeds:
        state = (
            "never polled" if not feed["last_polled"] else f"last poll {_when(feed['last_polled'])}"
        )
        if feed["last_error"]:
            state += f", <b>failing</b> ({feed['failures']}×): {escape(feed['last_error'])}"
        elif feed["last_ok"]:
            state += ", ok"
        next_poll = _when(feed["next_poll"]) if feed["next_poll"] else "now"
        lines.append(
            f"{feed['id']}. {escape(feed['title'] or feed['url'])} — {state}; next {next_poll}"
        )
    lines += [
        "",
        "<b>Alerts</b>",
        f"pending {numbers['pending']} (due {numbers['due']}, retrying {numbers['retrying']}), "
        f"sent in the last 24 h {numbers['sent_24h']}, dead {numbers['dead']}, "
        f"waiting to be matched {numbers['inbox']}",
        f"chats {numbers['chats']} active, {numbers['inactive_chats']} deactivated; "
        f"subscriptions {numbers['subscriptions']}",
    ]
    if numbers["last_error"]:
        lines.append(f"last send error: {escape(numbers['last_error'])}")
    return "\n".join(lines)


# helpers -----------------------------------------------------------------------------------


async def _managed(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> tuple[Message | None, subs.ChatRef | None]:
    """The message and chat when the sender may change this chat's subscriptions."""
    message, chat = update.effective_message, _chat_ref(update)
    if message is None or chat is None:
        return None, None
    if await _may_manage(update, context, chat):
        return message, chat
    await reply(message, NOT_ALLOWED)
    return None, None


async def _may_manage(
    update: Update, context: ContextTypes.DEFAULT_TYPE, chat: subs.ChatRef
) -> bool:
    """Group administrators (asked with getChatMember), bot admins, or a private chat's user."""
    message, user = update.effective_message, update.effective_user
    admins = runtime_of(context).settings.admin_ids
    # An anonymous administrator posts as the group itself.
    if message and message.sender_chat and message.sender_chat.id == chat.chat_id:
        return True
    user_id = user.id if user else None
    if not subs.needs_member_check(chat.type, user_id, admins) or user_id is None:
        return subs.may_manage(chat.type, user_id, None, admins)
    try:
        member = await context.bot.get_chat_member(chat.chat_id, user_id)
    except TelegramError as exc:
        log.warning("getChatMember failed for %s in %s: %s", user_id, chat.chat_id, exc)
        return False
    return subs.may_manage(chat.type, user_id, member.status, admins)


def _chat_ref(update: Update) -> subs.ChatRef | None:
    """The chat of an update, as subscriptions know it."""
    chat = update.effective_chat
    if chat is None:
        return None
    title = chat.title or chat.full_name or chat.username
    return subs.ChatRef(chat.id, chat.type, title)


def _when(value: str) -> str:
    return value[:16].replace("T", " ") + " UTC"
