"""Alerts in Telegram: /subscribe and friends, and the jobs that poll feeds and send alerts.

`bot.telegram.app` puts the runtime in `BotData.alerts`, lists these commands in its command
table, and calls `start_jobs`. Jobs carry the job rounds they were started with. The poll job
runs the blocking poll in a worker thread, so questions keep being answered.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from telegram import Message, Update
from telegram.error import TelegramError

from sectorbot.bot.alerts.runtime import AlertStatus
from sectorbot.bot.alerts.store import ChatRef
from sectorbot.bot.i18n import N_, _
from sectorbot.bot.markup import bold, escape
from sectorbot.bot.telegram.alert_transport import TelegramTransport
from sectorbot.bot.telegram.reply import after_command, reply
from sectorbot.bot.telegram.state import App, Context
from sectorbot.bot.workers.jobs import Jobs

log = logging.getLogger(__name__)

NOT_ALLOWED = N_("Only the group's administrators can change its alert subscriptions.")


def start_jobs(
    app: App,
    jobs: Jobs,
    *,
    poll_tick: float,
    send_tick: float,
) -> None:
    """Keep the job lease and look at the outbox every `send_tick` seconds; poll due feeds
    every `poll_tick`. Polling and sending happen only while this process holds the lease."""
    if app.job_queue is None:
        raise RuntimeError("alerts need python-telegram-bot's job queue (the [job-queue] extra)")
    queue = app.job_queue
    queue.run_repeating(lease_job, send_tick, first=0, name="jobs-lease", data=jobs)
    queue.run_repeating(poll_job, poll_tick, first=poll_tick, name="alerts-poll", data=jobs)
    queue.run_repeating(send_job, send_tick, first=send_tick, name="alerts-send", data=jobs)


# jobs --------------------------------------------------------------------------------------


def _jobs(context: Context) -> Jobs:
    """The job rounds `start_jobs` gave this job."""
    assert context.job is not None
    return cast(Jobs, context.job.data)


async def lease_job(context: Context) -> None:
    """Take or renew the job lease."""
    try:
        await _jobs(context).keep_lease()
    except Exception:
        log.exception("could not renew the job lease")


async def poll_job(context: Context) -> None:
    """Poll due feeds off the event loop; send at once what the poll queued."""
    try:
        await _jobs(context).poll(TelegramTransport(context.bot))
    except Exception:  # a bad round must not stop the job; the next tick tries again
        log.exception("alert poll failed")


async def match_now(context: Context) -> None:
    """Match and send at once the documents a handler just stored, if this process runs the
    jobs; otherwise the job worker does at its next poll tick."""
    jobs = context.bot_data.jobs
    if jobs is not None:
        await jobs.match_now(TelegramTransport(context.bot))


async def send_job(context: Context) -> None:
    """Send the alerts whose time has come."""
    try:
        await _jobs(context).send(TelegramTransport(context.bot))
    except Exception:
        log.exception("alert sending failed")


# commands ----------------------------------------------------------------------------------


async def subscribe(update: Update, context: Context) -> None:
    """/subscribe places, keywords or `topic: ...` for this chat."""
    message, chat = await _managed(update, context)
    if message and chat:
        user = update.effective_user
        result = await asyncio.to_thread(
            context.bot_data.alerts.subscribe,
            chat,
            user.id if user else None,
            after_command(message.text or ""),
        )
        await reply(message, result.message())


async def list_subscriptions(update: Update, context: Context) -> None:
    """/subscriptions: the chat's subscriptions, numbered."""
    message, chat = update.effective_message, _chat_ref(update)
    if message and chat:
        await reply(message, context.bot_data.alerts.list_subscriptions(chat.chat_id))


async def unsubscribe(update: Update, context: Context) -> None:
    """/unsubscribe 2, /unsubscribe 1 3, /unsubscribe all."""
    message, chat = await _managed(update, context)
    if message and chat:
        arg = after_command(message.text or "")
        await reply(message, context.bot_data.alerts.unsubscribe(chat.chat_id, arg))


async def digest(update: Update, context: Context) -> None:
    """/digest 6 or /digest off."""
    message, chat = await _managed(update, context)
    if message and chat:
        arg = after_command(message.text or "")
        await reply(message, context.bot_data.alerts.set_digest(chat, arg))


async def quiet(update: Update, context: Context) -> None:
    """/quiet 23-7 (UTC), /quiet 23-7 +2, or /quiet off."""
    message, chat = await _managed(update, context)
    if message and chat:
        arg = after_command(message.text or "")
        await reply(message, context.bot_data.alerts.set_quiet(chat, arg))


async def alertstatus(update: Update, context: Context) -> None:
    """/alertstatus (bot admins): feeds, the alert queue and recent deliveries."""
    message, user = update.effective_message, update.effective_user
    runtime = context.bot_data.alerts
    if message:
        if user is None or user.id not in runtime.settings.admin_ids:
            await reply(message, _("This command is for the bot's administrators."))
        else:
            await reply(message, render_status(runtime.status()))


def render_status(status: AlertStatus) -> str:
    """The /alertstatus text, as Telegram HTML."""
    numbers = status.outbox
    lines = [bold(_("Feeds")) + f" ({len(status.feeds)})"]
    lines += [_feed_line(feed) for feed in status.feeds]
    lines += [
        "",
        bold(_("Alerts")),
        _(
            "pending {pending} (due {due}, retrying {retrying}), sent in the last 24 h "
            "{sent_24h}, dead {dead}, waiting to be matched {inbox}"
        ).format(**numbers),
        _(
            "chats {chats} active, {inactive_chats} deactivated; subscriptions {subscriptions}"
        ).format(**numbers),
    ]
    if numbers["last_error"]:
        lines.append(_("last send error: {error}").format(error=escape(numbers["last_error"])))
    return "\n".join(lines)


def _feed_line(feed: dict[str, Any]) -> str:
    """One feed of /alertstatus: its last poll, whether it is failing, its next poll."""
    polled = feed["last_polled"]
    state = _("last poll {when}").format(when=_when(polled)) if polled else _("never polled")
    if feed["last_error"]:
        failing = _("<b>failing</b> ({n}×): {error}")
        state += ", " + failing.format(n=feed["failures"], error=escape(feed["last_error"]))
    elif feed["last_ok"]:
        state += ", " + _("ok")
    next_poll = _when(feed["next_poll"]) if feed["next_poll"] else _("now")
    name = escape(feed["title"] or feed["url"])
    return f"{feed['id']}. {name} — {state}; " + _("next {when}").format(when=next_poll)


# helpers -----------------------------------------------------------------------------------


async def _managed(update: Update, context: Context) -> tuple[Message | None, ChatRef | None]:
    """The message and chat when the sender may change this chat's subscriptions."""
    message, chat = update.effective_message, _chat_ref(update)
    if message is None or chat is None:
        return None, None
    if await _may_manage(update, context, chat):
        return message, chat
    await reply(message, _(NOT_ALLOWED))
    return None, None


async def _may_manage(update: Update, context: Context, chat: ChatRef) -> bool:
    """Group administrators (asked with getChatMember), bot admins, or a private chat's user."""
    message, user = update.effective_message, update.effective_user
    runtime = context.bot_data.alerts
    # An anonymous administrator posts as the group itself.
    if message and message.sender_chat and message.sender_chat.id == chat.chat_id:
        return True
    user_id = user.id if user else None
    if not runtime.needs_member_check(chat, user_id) or user_id is None:
        return runtime.may_manage(chat, user_id, None)
    try:
        member = await context.bot.get_chat_member(chat.chat_id, user_id)
    except TelegramError as exc:
        log.warning("getChatMember failed for %s in %s: %s", user_id, chat.chat_id, exc)
        return False
    return runtime.may_manage(chat, user_id, member.status)


async def may_change_chat(update: Update, context: Context) -> bool:
    """Whether the sender may change this chat's settings (the rule subscriptions follow)."""
    chat = _chat_ref(update)
    return chat is not None and await _may_manage(update, context, chat)


def _chat_ref(update: Update) -> ChatRef | None:
    """The chat of an update, as subscriptions know it."""
    chat = update.effective_chat
    if chat is None:
        return None
    title = chat.title or chat.full_name or chat.username
    return ChatRef(chat.id, chat.type, title)


def _when(value: str) -> str:
    return value[:16].replace("T", " ") + " UTC"
