"""Admin commands in Telegram: /reindex, /ingest, /addfeed, /feeds, /removefeed, /stats,
and the polite refusal everyone else gets for them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time

from telegram import Message, Update
from telegram.error import TelegramError

from sectorbot.bot.i18n import _, ngettext
from sectorbot.bot.markup import escape
from sectorbot.bot.telegram.render import (
    render_feeds,
    render_ingest,
    render_stats,
    safe_url,
)
from sectorbot.bot.telegram.reply import message_text, reply, typing
from sectorbot.bot.telegram.state import BotData, Context, ReindexJob
from sectorbot.corpus.errors import FeedError

log = logging.getLogger(__name__)

MAX_INGEST_URLS = 20


async def not_admin(update: Update, context: Context) -> None:
    """Admin commands from anyone else: a polite no, and nothing runs."""
    if update.effective_message:
        command = message_text(update).split(maxsplit=1)[0].split("@")[0]
        text = _("Sorry, {command} is only for the bot's administrators.")
        await reply(update.effective_message, text.format(command=escape(command)))


async def reindex(update: Update, context: Context) -> None:
    """/reindex [full]: rebuild the index in the background, one run at a time."""
    message = update.effective_message
    if message is None:
        return
    data = context.bot_data
    if data.reindex is not None:
        await reply(message, _("A reindex is already running.") + " " + data.reindex.describe())
        return
    args = [a.lower() for a in context.args or []]
    if args not in ([], ["full"]):
        await reply(message, _("Usage: /reindex, or /reindex full to rebuild from scratch."))
        return
    # Claimed before the first await, so two /reindex at once cannot both start one.
    job = data.reindex = ReindexJob(full=args == ["full"])
    context.application.create_task(_run_reindex(message, data, job), update=update)


async def _run_reindex(message: Message, data: BotData, job: ReindexJob) -> None:
    """Run one reindex in a worker thread, editing one status message as it goes."""
    try:
        shown = job.describe()
        status = await reply(message, escape(shown))
        # Searches keep using the current index; the new one is swapped in at the end.
        worker = asyncio.ensure_future(
            asyncio.to_thread(data.service.reindex, job.full, job.progress)
        )
        while True:
            finished, _pending = await asyncio.wait({worker}, timeout=data.progress_every)
            if finished:
                break
            shown = await _edit_status(status, job.describe(), shown)
        data.reindex = None  # done: a new /reindex may start while we report on this one
        try:
            result = worker.result()
        except Exception:
            log.exception("reindex failed")
            final = _(
                "Reindex failed after {seconds} s; the previous index is still in use. "
                "The log has the details."
            ).format(seconds=f"{time.monotonic() - job.started:.0f}")
        else:
            final = _(
                "Reindex finished in {seconds} s: {added} passages embedded, {removed} removed, "
                "{total} in the index."
            ).format(
                seconds=f"{result.seconds:.1f}",
                added=result.added,
                removed=result.removed,
                total=result.total,
            )
        await _edit_status(status, final, shown)
    finally:
        if data.reindex is job:  # never release a newer job
            data.reindex = None


async def _edit_status(status: Message, text: str, shown: str) -> str:
    """Edit the status message unless the text is unchanged; returns what is now shown."""
    if text == shown:  # Telegram refuses an edit that changes nothing
        return shown
    try:
        await status.edit_text(escape(text))
    except TelegramError as exc:  # the status is a courtesy; the reindex goes on
        log.warning("could not update the reindex status: %s", exc)
        return shown
    return text


async def ingest(update: Update, context: Context) -> None:
    """/ingest <url> [url…]: fetch, store and index web pages."""
    message = update.effective_message
    if message is None:
        return
    urls = list(context.args or [])
    if not urls:
        await reply(message, _("Usage: /ingest &lt;url&gt; [url…] (http or https)."))
        return
    bad = [u for u in urls if safe_url(u) is None]
    if bad or len(urls) > MAX_INGEST_URLS:
        reason = (
            _("Not an http(s) URL: {url}").format(url=escape(bad[0][:200]))
            if bad
            else _("At most {n} URLs at a time.").format(n=MAX_INGEST_URLS)
        )
        await reply(message, reason)
        return
    service = context.bot_data.service
    await reply(
        message,
        ngettext("Fetching {n} page…", "Fetching {n} pages…", len(urls)).format(n=len(urls)),
    )
    await typing(context.bot, message.chat_id)
    # URLs from a chat are strangers' choice: no loopback or private addresses (the setting
    # SECTORBOT_ALLOW_PRIVATE_URLS lifts that for a bot on an internal network).
    report = await asyncio.to_thread(functools.partial(service.ingest, urls, trusted=False))
    # Questions go on meanwhile: the index swaps in the new passages only when done.
    reindexed = await asyncio.to_thread(service.reindex) if report.changed else None
    await reply(message, render_ingest(report, reindexed))


async def addfeed(update: Update, context: Context) -> None:
    """/addfeed <url>: follow a feed."""
    message = update.effective_message
    if message is None:
        return
    if len(context.args or []) != 1:
        await reply(message, _("Usage: /addfeed &lt;url&gt;"))
        return
    url = (context.args or [""])[0]
    user = update.effective_user
    runtime = context.bot_data.alerts
    try:
        feed_id, new = await asyncio.to_thread(
            runtime.add_feed, url, str(user.id) if user else None
        )
    except FeedError as exc:
        await reply(message, _("Sorry: {problem}").format(problem=escape(exc)))
        return
    status = (
        _("Now following feed #{id}: {url}") if new else _("Already following feed #{id}: {url}")
    )
    await reply(message, status.format(id=feed_id, url=escape(url)))


async def feeds(update: Update, context: Context) -> None:
    """/feeds: the feeds followed."""
    if update.effective_message:
        rows = await asyncio.to_thread(context.bot_data.alerts.list_feeds)
        await reply(update.effective_message, render_feeds(rows))


async def removefeed(update: Update, context: Context) -> None:
    """/removefeed <id>: stop following a feed (its history is kept)."""
    message = update.effective_message
    if message is None:
        return
    args = context.args or []
    if len(args) != 1 or not args[0].lstrip("#").isdigit():
        await reply(message, _("Usage: /removefeed &lt;id&gt; (see /feeds for the ids)"))
        return
    feed_id = int(args[0].lstrip("#"))
    removed = await asyncio.to_thread(context.bot_data.alerts.remove_feed, feed_id)
    text = _("Stopped following feed #{id}.") if removed else _("No active feed #{id}.")
    await reply(message, text.format(id=feed_id))


async def stats(update: Update, context: Context) -> None:
    """/stats: numbers about the corpus, the index and the questions asked."""
    if update.effective_message:
        data = context.bot_data
        numbers = await asyncio.to_thread(data.service.stats)
        bot = {
            "bot_uptime_s": round(time.monotonic() - data.started),
            "answers_cached": len(data.answers),
            "reindex_running": data.reindex.describe() if data.reindex else "no",
        }
        await reply(update.effective_message, render_stats(numbers, bot))
