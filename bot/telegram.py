"""The Telegram bot: python-telegram-bot handlers over the shared `Service`.

`build_application` is the one place the `Application` is put together; `run_bot` serves it
by long polling, or by webhook when `SECTORBOT_WEBHOOK_URL` is set. Service calls are
synchronous and CPU-bound, so handlers run them in worker threads (`asyncio.to_thread`) and
the event loop stays free for other chats.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from sectorbot.bot import telegram_alerts
from sectorbot.bot.errors import SettingsError
from sectorbot.bot.logs import RedactToken
from sectorbot.bot.ratelimit import SlidingWindowLimiter, Verdict
from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings
from sectorbot.bot.telegram_render import (
    escape,
    render_about,
    render_answer,
    render_documents,
    render_feeds,
    render_ingest,
    render_more,
    render_sources,
    render_stats,
    safe_url,
    split_message,
)
from sectorbot.bot.telegram_reply import after_command, message_text, reply, typing
from sectorbot.corpus.errors import FeedError
from sectorbot.index.answer import Answer
from sectorbot.index.errors import QueryError

log = logging.getLogger(__name__)

MAX_QUESTION = 1000  # characters; longer is almost always a paste, not a question
MAX_INGEST_URLS = 20
ANSWER_CACHE_SIZE = 500
PROGRESS_EVERY = 2.0  # seconds between edits of the reindex status message
CONCURRENT_UPDATES = 32
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
STATE_KEY = "sectorbot"

PUBLIC_COMMANDS = [
    ("ask", "Ask a question about the Pokrovsk sector"),
    ("sources", "Reports I hold, matching a query or the newest"),
    ("latest", "The newest reports"),
    ("about", "How much I know and how fresh it is"),
    ("help", "How to use this bot"),
    ("start", "Introduction"),
]
ADMIN_COMMANDS = [
    ("reindex", "Rebuild the search index (add 'full' to start over)"),
    ("ingest", "Fetch, store and index web pages by URL"),
    ("addfeed", "Follow a news feed"),
    ("feeds", "List the feeds followed"),
    ("removefeed", "Stop following a feed"),
    ("stats", "Numbers about the corpus, index and questions"),
]

EXAMPLE = "Who captured the lithium deposit near Shevchenko?"
SORRY = "Sorry, something went wrong while handling that. Please try again in a moment."
EXPIRED = "That answer has expired. Please ask the question again."
USAGE_ASK = f"Ask me a question after the command, e.g.\n/ask {escape(EXAMPLE)}"
USAGE_EMPTY = f"Please send me a question in words, e.g.\n{escape(EXAMPLE)}"


# ------------------------------------------------------------------------------------ state


class AnswerCache:
    """Recent answers by a short random id, so "Sources"/"More" buttons can find them.

    Bounded (least recently used goes first), and in memory only: after a restart old
    buttons find nothing and say so. Random ids, not a counter, so that a button from
    before a restart can never point at someone else's newer answer.
    """

    def __init__(self, size: int = ANSWER_CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, Answer] = OrderedDict()

    def put(self, answer: Answer) -> str:
        key = secrets.token_urlsafe(6)
        while key in self._items:
            key = secrets.token_urlsafe(6)
        self._items[key] = answer
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return key

    def get(self, key: str) -> Answer | None:
        answer = self._items.get(key)
        if answer is not None:
            self._items.move_to_end(key)
        return answer

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class ReindexJob:
    """The one reindex that may run at a time, and how far it has got."""

    full: bool
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    total: int = 0

    def progress(self, done: int, total: int) -> None:
        """Called from the worker thread; plain int stores, read by the event loop."""
        self.done, self.total = done, total

    def describe(self) -> str:
        kind = " (full rebuild)" if self.full else ""
        elapsed = time.monotonic() - self.started
        step = f"{self.done}/{self.total} passages embedded" if self.total else "preparing"
        return f"Reindexing{kind}… {step}, {elapsed:.0f} s so far."


@dataclass
class BotState:
    service: Service
    settings: Settings
    answers: AnswerCache
    limiter: SlidingWindowLimiter
    job: ReindexJob | None = None
    progress_every: float = PROGRESS_EVERY
    started: float = field(default_factory=time.monotonic)
    # Menus and /help read these, so a module that adds handlers (before the bot starts)
    # can list its commands too: `state.public_commands += [("name", "what it does")]`.
    public_commands: list[tuple[str, str]] = field(default_factory=lambda: list(PUBLIC_COMMANDS))
    admin_commands: list[tuple[str, str]] = field(default_factory=lambda: list(ADMIN_COMMANDS))


def _state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return cast(BotState, context.bot_data[STATE_KEY])


def _is_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    user = update.effective_user
    return user is not None and user.id in _state(context).settings.admin_ids


# ---------------------------------------------------------------------------------- helpers


@functools.lru_cache(maxsize=8)
def _mention_re(username: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w@])@{re.escape(username)}(?!\w)", re.IGNORECASE)


def _strip_mention(text: str, username: str | None) -> str:
    return _mention_re(username).sub(" ", text) if username else text


def _answer_keyboard(key: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Sources", callback_data=f"src:{key}"),
                InlineKeyboardButton("More", callback_data=f"more:{key}"),
            ]
        ]
    )


def _passages(service: Service, chunk_ids: list[int]) -> dict[int, str]:
    """The text of the given passages (read-only; runs in a worker thread)."""
    return {cid: chunk.text for cid, chunk in service.store.chunks_by_ids(chunk_ids).items()}


class _AddressedInGroup(filters.MessageFilter):
    """Group messages meant for the bot: they mention it or reply to one of its messages."""

    def filter(self, message: Message) -> bool:
        bot = message.get_bot()
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
            return True
        username = bot.username
        return bool(username and message.text and _mention_re(username).search(message.text))


# ---------------------------------------------------------------------------------- questions


async def _throttled(update: Update, context: ContextTypes.DEFAULT_TYPE, message: Message) -> bool:
    """Count one search for this user; True (after one notice per window) when over the limit."""
    limiter = _state(context).limiter
    key = update.effective_user.id if update.effective_user else message.chat_id
    verdict = limiter.check(key)
    if verdict is Verdict.NOTIFY:
        await reply(
            message,
            f"You're asking faster than I can answer: at most {limiter.limit} questions a "
            f"minute. Try again in {limiter.retry_after(key):.0f} s.",
        )
    return verdict is not Verdict.ALLOW


async def _answer(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
    """Check, rate-limit and answer one question, with Sources/More buttons."""
    message = update.effective_message
    # Checked before anything else, so that a flood of bad input is throttled as well.
    if message is None or await _throttled(update, context, message):
        return
    state = _state(context)
    question = question.strip()
    if not any(ch.isalnum() for ch in question):
        await reply(message, USAGE_EMPTY)
        return
    if len(question) > MAX_QUESTION:
        await reply(
            message,
            f"That is {len(question):,} characters; please keep a question under "
            f"{MAX_QUESTION:,} characters.",
        )
        return
    await typing(context, message.chat_id)
    try:
        answer = await asyncio.to_thread(state.service.ask, question)
    except QueryError as exc:
        await reply(message, f"Sorry: {escape(exc)}")
        return
    keyboard = _answer_keyboard(state.answers.put(answer)) if answer.answered else None
    await reply(message, render_answer(answer), keyboard)


async def private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a private chat any text is a question."""
    await _answer(update, context, message_text(update))


async def group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A group message that mentions the bot or replies to it is a question."""
    await _answer(update, context, _strip_mention(message_text(update), context.bot.username))


async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask <question>: the way to ask in groups (works everywhere)."""
    question = _strip_mention(after_command(message_text(update)), context.bot.username)
    if not question.strip():
        if update.effective_message:
            await reply(update.effective_message, USAGE_ASK)
        return
    await _answer(update, context, question)


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The Sources / More buttons under an answer."""
    query = update.callback_query
    chat = update.effective_chat
    if query is None or chat is None:
        return
    kind, _, key = (query.data or "").partition(":")
    answer = _state(context).answers.get(key) if kind in ("src", "more") else None
    if answer is None:
        await query.answer(EXPIRED, show_alert=True)
        return
    await query.answer()
    if kind == "src":
        html = render_sources(answer)
    else:
        ids = [s.chunk_id for s in answer.more]
        passages = await asyncio.to_thread(_passages, _state(context).service, ids)
        html = render_more(answer, passages)
    for part in split_message(html):
        if isinstance(query.message, Message):
            await query.message.reply_text(part, do_quote=True)
        else:  # too old for Telegram to include: send it plainly
            await context.bot.send_message(chat.id, part)


# ---------------------------------------------------------------------------- public commands


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start: what the bot is and how to ask."""
    if update.effective_message:
        await reply(
            update.effective_message,
            "Hello! I answer questions about the Pokrovsk sector of the war, quoting the "
            "reports I hold and citing each one.\n\n"
            f"Just send me a question, e.g.\n<i>{escape(EXAMPLE)}</i>\n\n"
            "In a group, use /ask or mention me. /help lists everything.",
        )


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/help: the commands this user may use."""
    if not update.effective_message:
        return
    state = _state(context)
    commands = state.public_commands + (state.admin_commands if _is_admin(update, context) else [])
    lines = ["<b>How to use me</b>", "Send a question (in groups: /ask or mention me).", ""]
    lines += [f"/{name} — {escape(text)}" for name, text in commands]
    lines += ["", "Filters: since:2025-01-01 until:2025-02-01 in a question narrow the dates."]
    await reply(update.effective_message, "\n".join(lines))


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/sources [query]: reports matching a query, or the newest ones."""
    message = update.effective_message
    if message is None:
        return
    query = " ".join(after_command(message_text(update)).split())[:MAX_QUESTION]
    if query and await _throttled(update, context, message):  # a query costs a search
        return
    try:
        rows = await asyncio.to_thread(_state(context).service.sources, query or None)
    except QueryError as exc:
        await reply(message, f"Sorry: {escape(exc)}")
        return
    heading = f"Reports matching “{query}”" if query else "The newest reports"
    await reply(message, render_documents(rows, heading))


async def latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/latest: the newest reports."""
    if update.effective_message:
        rows = await asyncio.to_thread(_state(context).service.latest)
        await reply(update.effective_message, render_documents(rows, "The newest reports"))


async def about(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/about: corpus size, date range, index freshness and model."""
    if update.effective_message:
        info = await asyncio.to_thread(_state(context).service.about)
        await reply(update.effective_message, render_about(info))


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command the bot does not have (private chats only; groups may have other bots)."""
    if update.effective_message:
        command = (
            message_text(update).split(maxsplit=1)[0][:64] if message_text(update).strip() else "?"
        )
        await reply(
            update.effective_message,
            f"I don't know {escape(command)}. /help lists what I can do.",
        )


async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos and the like in a private chat."""
    if update.effective_message:
        await reply(update.effective_message, "I can only read text. Please type a question.")


# ----------------------------------------------------------------------------- admin commands


async def not_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admin commands from anyone else: a polite no, and nothing runs."""
    if update.effective_message:
        command = message_text(update).split(maxsplit=1)[0].split("@")[0]
        await reply(
            update.effective_message,
            f"Sorry, {escape(command)} is only for the bot's administrators.",
        )


async def reindex(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/reindex [full]: rebuild the index in the background, one run at a time."""
    message = update.effective_message
    if message is None:
        return
    state = _state(context)
    if state.job is not None:
        await reply(message, f"A reindex is already running. {state.job.describe()}")
        return
    args = [a.lower() for a in context.args or []]
    if args not in ([], ["full"]):
        await reply(message, "Usage: /reindex, or /reindex full to rebuild from scratch.")
        return
    # Claimed before the first await, so two /reindex at once cannot both start one.
    job = state.job = ReindexJob(full=args == ["full"])
    context.application.create_task(_run_reindex(message, state, job), update=update)


async def _run_reindex(message: Message, state: BotState, job: ReindexJob) -> None:
    """Run one reindex in a worker thread, editing one status message as it goes."""
    try:
        shown = job.describe()
        status = await message.reply_text(escape(shown))
        # Searches keep using the current index; the new one is swapped in at the end.
        worker = asyncio.ensure_future(
            asyncio.to_thread(state.service.reindex, job.full, job.progress)
        )
        while True:
            finished, _ = await asyncio.wait({worker}, timeout=state.progress_every)
            if finished:
                break
            shown = await _edit_status(status, job.describe(), shown)
        state.job = None  # done: a new /reindex may start while we report on this one
        try:
            result = worker.result()
        except Exception:
            log.exception("reindex failed")
            final = (
                f"Reindex failed after {time.monotonic() - job.started:.0f} s; the previous "
                "index is still in use. The log has the details."
            )
        else:
            final = (
                f"Reindex finished in {result.seconds:.1f} s: {result.added} passages "
                f"embedded, {result.removed} removed, {result.total} in the index."
            )
        await _edit_status(status, final, shown)
    finally:
        if state.job is job:  # never release a newer job
            state.job = None


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


async def ingest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ingest <url> [url…]: fetch, store and index web pages."""
    message = update.effective_message
    if message is None:
        return
    urls = list(context.args or [])
    if not urls:
        await reply(message, "Usage: /ingest &lt;url&gt; [url…] (http or https).")
        return
    bad = [u for u in urls if safe_url(u) is None]
    if bad or len(urls) > MAX_INGEST_URLS:
        reason = (
            f"Not an http(s) URL: {escape(bad[0][:200])}"
            if bad
            else f"At most {MAX_INGEST_URLS} URLs at a time."
        )
        await reply(message, reason)
        return
    service = _state(context).service
    await reply(message, f"Fetching {len(urls)} page{'s' if len(urls) > 1 else ''}…")
    await typing(context, message.chat_id)
    report = await asyncio.to_thread(service.ingest, urls)
    # Questions go on meanwhile: the index swaps in the new passages only when done.
    reindexed = await asyncio.to_thread(service.reindex) if report.changed else None
    await reply(message, render_ingest(report, reindexed))


async def addfeed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/addfeed <url>: follow a feed."""
    message = update.effective_message
    if message is None:
        return
    if len(context.args or []) != 1:
        await reply(message, "Usage: /addfeed &lt;url&gt;")
        return
    url = (context.args or [""])[0]
    user = update.effective_user
    runtime = telegram_alerts.runtime_of(context)
    try:
        feed_id, new = await asyncio.to_thread(
            runtime.add_feed, url, str(user.id) if user else None
        )
    except FeedError as exc:
        await reply(message, f"Sorry: {escape(exc)}")
        return
    status = "Now following" if new else "Already following"
    await reply(message, f"{status} feed #{feed_id}: {escape(url)}")


async def feeds(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/feeds: the feeds followed."""
    if update.effective_message:
        rows = await asyncio.to_thread(telegram_alerts.runtime_of(context).list_feeds)
        await reply(update.effective_message, render_feeds(rows))


async def removefeed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/removefeed <id>: stop following a feed (its history is kept)."""
    message = update.effective_message
    if message is None:
        return
    args = context.args or []
    if len(args) != 1 or not args[0].lstrip("#").isdigit():
        await reply(message, "Usage: /removefeed &lt;id&gt; (see /feeds for the ids)")
        return
    feed_id = int(args[0].lstrip("#"))
    removed = await asyncio.to_thread(telegram_alerts.runtime_of(context).remove_feed, feed_id)
    text = f"Stopped following feed #{feed_id}." if removed else f"No active feed #{feed_id}."
    await reply(message, text)


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats: numbers about the corpus, the index and the questions asked."""
    if update.effective_message:
        state = _state(context)
        numbers = await asyncio.to_thread(state.service.stats)
        bot = {
            "bot_uptime_s": round(time.monotonic() - state.started),
            "answers_cached": len(state.answers),
            "reindex_running": state.job.describe() if state.job else "no",
        }
        await reply(update.effective_message, render_stats(numbers, bot))


# ------------------------------------------------------------------------------- errors & setup


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure with its traceback first, then tell the user briefly."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(context.error, Forbidden):  # blocked or kicked: nobody to tell
        return
    chat = update.effective_chat if isinstance(update, Update) else None
    if chat is None:
        return
    try:
        await context.bot.send_message(chat.id, SORRY)
    except TelegramError as exc:
        log.warning("could not tell the user about the error: %s", exc)


def _commands(pairs: list[tuple[str, str]]) -> list[BotCommand]:
    return [BotCommand(name, text) for name, text in pairs]


async def _publish_commands(app: Application) -> None:
    """Public commands for everyone; admin ones only in each admin's own chat menu."""
    state = cast(BotState, app.bot_data[STATE_KEY])
    public, admin = _commands(state.public_commands), _commands(state.admin_commands)
    try:
        await app.bot.set_my_commands(public, scope=BotCommandScopeDefault())
    except TelegramError as exc:
        log.warning("could not set the command menu: %s", exc)
    for admin_id in sorted(state.settings.admin_ids):
        try:
            await app.bot.set_my_commands(public + admin, scope=BotCommandScopeChat(admin_id))
        except TelegramError as exc:  # e.g. the admin has not started a chat with the bot yet
            log.warning("could not set the admin menu for %s: %s", admin_id, exc)


_REDACT = RedactToken()


def _redact_library_logs() -> None:
    # Both libraries put the request URL, token included, into log messages (PTB at DEBUG,
    # httpx at INFO). Filter at the source, whatever handlers the process configures.
    for name in ("httpx", "telegram.Bot", "telegram.ext.ExtBot", "telegram.ext.Updater"):
        logging.getLogger(name).addFilter(_REDACT)


def file_api_url(api_url: str) -> str:
    """The Bot API file URL that goes with an API URL: .../bot -> .../file/bot."""
    head, sep, tail = api_url.rpartition("/bot")
    return f"{head}/file/bot{tail}" if sep else api_url.rstrip("/") + "/file/bot"


def build_application(
    service: Service,
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    alert_ticks: dict[str, float] | None = None,
) -> Application:
    """The bot, ready to start: handlers, rate limiter, command menus, error handler.

    `alert_ticks` (poll_tick, send_tick, retry_base) tunes the alert jobs' schedule.
    """
    if not settings.telegram_bot_token:
        raise SettingsError("TELEGRAM_BOT_TOKEN is not set")
    _redact_library_logs()
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_api_url)
        .base_file_url(file_api_url(settings.telegram_api_url))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                allow_sending_without_reply=True,
            )
        )
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(CONCURRENT_UPDATES)
        .post_init(_publish_commands)
    )
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    app = builder.build()
    app.bot_data[STATE_KEY] = BotState(
        service=service,
        settings=settings,
        answers=AnswerCache(),
        limiter=SlidingWindowLimiter(settings.questions_per_minute, 60.0),
    )

    admins = filters.User(user_id=settings.admin_ids)
    new_messages = filters.UpdateType.MESSAGE
    private = filters.ChatType.PRIVATE & new_messages
    groups = filters.ChatType.GROUPS & new_messages

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", help_command))
    app.add_handler(CommandHandler("ask", ask))
    app.add_handler(CommandHandler("sources", sources))
    app.add_handler(CommandHandler("latest", latest))
    app.add_handler(CommandHandler("about", about))
    app.add_handler(CommandHandler("reindex", reindex, filters=admins))
    app.add_handler(CommandHandler("ingest", ingest, filters=admins))
    app.add_handler(CommandHandler("addfeed", addfeed, filters=admins))
    app.add_handler(CommandHandler("feeds", feeds, filters=admins))
    app.add_handler(CommandHandler("removefeed", removefeed, filters=admins))
    app.add_handler(CommandHandler("stats", stats, filters=admins))
    _add_alerts(app, service, settings, alert_ticks or {})  # before the catch-all handlers
    app.add_handler(CommandHandler([name for name, _ in ADMIN_COMMANDS], not_admin))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & private, private_text))
    app.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & groups & _AddressedInGroup(), group_text)
    )
    app.add_handler(MessageHandler(filters.COMMAND & private, unknown_command))
    app.add_handler(MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, not_text))
    app.add_handler(CallbackQueryHandler(button))
    app.add_error_handler(on_error)
    return app


def _add_alerts(
    app: Application, service: Service, settings: Settings, ticks: dict[str, float]
) -> None:
    """Subscriptions, feed polling and alert delivery live in their own module."""
    from sectorbot.bot.alerts import AlertsRuntime

    runtime = AlertsRuntime.open(service, settings, retry_base=ticks.get("retry_base"))
    app.bot_data[telegram_alerts.ALERTS_KEY] = runtime
    app.add_handlers(telegram_alerts.handlers())
    telegram_alerts.start_jobs(
        app,
        runtime,
        poll_tick=ticks.get("poll_tick", telegram_alerts.POLL_TICK),
        send_tick=ticks.get("send_tick", telegram_alerts.SEND_TICK),
    )
    state = cast(BotState, app.bot_data[STATE_KEY])
    state.public_commands += telegram_alerts.COMMANDS
    state.admin_commands += telegram_alerts.ADMIN_COMMANDS


def run_bot(service: Service) -> None:
    """Serve until interrupted: long polling, or a webhook when one is configured."""
    settings = service.settings
    app = build_application(service, settings)
    if settings.webhook_url:
        log.info("serving a webhook on %s:%s", settings.webhook_listen, settings.webhook_port)
        app.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=urlsplit(settings.webhook_url).path.lstrip("/"),
            webhook_url=settings.webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
        )
    else:
        log.info("polling the Bot API for updates")
        app.run_polling(allowed_updates=ALLOWED_UPDATES)
