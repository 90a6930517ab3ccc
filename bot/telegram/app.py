"""The Telegram bot: one `Application`, its handlers in one ordered table, and how it runs.

`build_application` is the one place the bot's `Application` is put together, with its typed
`BotData` (see `state`); `run_bot` serves it by long polling, or by webhook when
`SECTORBOT_WEBHOOK_URL` is set. The handlers live in `questions` (anyone), `admin` (admins)
and `alerts` (alerts); the commands among them are listed once, in `commands`.
`build_job_application` and `run_job_worker` are `sectorbot worker`: the jobs without updates
(`workers` has what several processes share).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import Forbidden, InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest

from sectorbot.bot.alerts.runtime import AlertsRuntime
from sectorbot.bot.errors import SettingsError
from sectorbot.bot.i18n import N_, _, language
from sectorbot.bot.logs import RedactToken
from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings, webhook_problem
from sectorbot.bot.telegram import alerts as telegram_alerts
from sectorbot.bot.telegram import commands, questions
from sectorbot.bot.telegram import feedback as telegram_feedback
from sectorbot.bot.telegram import inline as telegram_inline
from sectorbot.bot.telegram import language as telegram_language
from sectorbot.bot.telegram import posts as telegram_posts
from sectorbot.bot.telegram import webhook as telegram_webhook
from sectorbot.bot.telegram import workers as telegram_workers
from sectorbot.bot.telegram.reply import send
from sectorbot.bot.telegram.state import CONTEXT_TYPES, App, BotData, Context
from sectorbot.bot.telegram.updates import ScreenedUpdates
from sectorbot.bot.workers.jobs import Jobs
from sectorbot.corpus.database import database_errors
from sectorbot.corpus.errors import StoreError
from sectorbot.corpus.text import one_line

log = logging.getLogger(__name__)

CONCURRENCY = 32
RETRY_FIRST = 2  # seconds before trying Telegram again when it could not be reached
RETRY_MAX = 300
ALLOWED_KINDS = [
    Update.MESSAGE,
    Update.CALLBACK_QUERY,
    Update.CHANNEL_POST,
    Update.EDITED_CHANNEL_POST,
    Update.INLINE_QUERY,
]
SORRY = N_("Sorry, something went wrong while handling that. Please try again in a moment.")
TROUBLE = N_("Sorry, I can't reach my reports right now. Please try again in a few minutes.")

__all__ = [
    "ALLOWED_KINDS",
    "SORRY",
    "BotData",
    "build_application",
    "build_job_application",
    "file_api_url",
    "run_bot",
    "run_job_worker",
]


def _handlers(settings: Settings) -> list[BaseHandler[Any, Context, Any]]:
    """Every handler, in the order an update tries them: the first that matches answers."""
    admins = filters.User(user_id=settings.admin_ids)
    new_messages = filters.UpdateType.MESSAGE
    private = filters.ChatType.PRIVATE & new_messages
    groups = filters.ChatType.GROUPS & new_messages
    words = filters.TEXT & ~filters.COMMAND
    table: list[BaseHandler[Any, Context, Any]] = [
        # Posts first: a forwarded post is a report, not a command or a question.
        MessageHandler(
            filters.UpdateType.CHANNEL_POSTS & telegram_posts.ListedChannel(settings.channels),
            telegram_posts.channel_post,
        ),
        MessageHandler(private & filters.FORWARDED & admins, telegram_posts.forwarded),
        MessageHandler(private & filters.FORWARDED, telegram_posts.check_forwarded),
        *commands.handlers(admins),
        # The catch-alls come last: plain text is a question, anything else gets a hint.
        MessageHandler(words & private, questions.private_text),
        MessageHandler(words & groups & questions.AddressedInGroup(), questions.group_text),
        MessageHandler(filters.COMMAND & private, questions.unknown_command),
        MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, questions.not_text),
        InlineQueryHandler(telegram_inline.inline_query),
        CallbackQueryHandler(telegram_feedback.vote, pattern=telegram_feedback.PATTERN),
        CallbackQueryHandler(questions.button),
    ]
    for handler in table:  # every handler writes in the language of its chat or user
        handler.callback = telegram_language.localized(handler.callback)
    return table


async def on_error(update: object, context: Context) -> None:
    """Log the failure first (one line when the database failed, else with its traceback),
    then tell the user briefly. Nothing here needs the database."""
    error = context.error
    store_down = isinstance(error, (*database_errors(), StoreError))
    update_id = update.update_id if isinstance(update, Update) else None
    told = context.bot_data.failed_updates
    if update_id is not None and update_id in told:  # a later handler group failed too
        log.debug("update %s failed again: %s", update_id, one_line(str(error)))
        return
    if update_id is not None:
        told.append(update_id)
    if store_down:
        log.error("the database failed while handling an update: %s", one_line(str(error)))
    else:
        log.error("error while handling an update", exc_info=error)
    if isinstance(error, Forbidden):  # blocked or kicked: nobody to tell
        return
    chat = update.effective_chat if isinstance(update, Update) else None
    if chat is None:
        return
    try:
        with language(await telegram_language.language_for(update, context)):
            await send(context.bot, chat.id, _(TROUBLE if store_down else SORRY))
    except TelegramError as exc:
        log.warning("could not tell the user about the error: %s", exc)


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


def _builder(settings: Settings) -> ApplicationBuilder[Any, Context, Any, Any, BotData, Any]:
    """What every Application of ours shares: the Bot API, defaults, the send rate limiter."""
    if not settings.telegram_bot_token:
        raise SettingsError("TELEGRAM_BOT_TOKEN is not set")
    _redact_library_logs()
    return (
        ApplicationBuilder()
        .context_types(CONTEXT_TYPES)
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
        .post_stop(telegram_workers.stop)
    )


def build_application(
    service: Service,
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    alert_ticks: dict[str, float] | None = None,
    jobs: bool = True,
) -> App:
    """The bot, ready to start: handlers, rate limiter, command menus, error handler.

    `alert_ticks` (poll_tick, send_tick, retry_base) tunes the alert jobs' schedule; with
    `jobs` False the bot only answers updates and a `sectorbot worker` runs the jobs.
    """
    builder = _builder(settings).concurrent_updates(CONCURRENCY).post_init(commands.publish_menus)
    if request is not None:
        builder = builder.request(request)
    # Each polled update is read on its own: one the library rejects is skipped, not fatal.
    fetch = get_updates_request or HTTPXRequest(connection_pool_size=1)
    builder = builder.get_updates_request(ScreenedUpdates(fetch))
    app: App = builder.build()
    mode = "webhook" if settings.webhook_url else "polling"
    _share(app, service, settings, f"{mode}+jobs" if jobs else mode, alert_ticks, jobs)
    # Before every handler: an update another worker (or this one) took on is dropped.
    app.add_handler(telegram_workers.claim_handler(), group=telegram_workers.CLAIM_GROUP)
    app.add_handlers(_handlers(settings))
    # After every handler: an update the webhook accepted is marked done.
    app.add_handler(telegram_workers.done_handler(), group=telegram_workers.DONE_GROUP)
    app.add_error_handler(on_error)
    return app


def build_job_application(
    service: Service,
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    alert_ticks: dict[str, float] | None = None,
) -> App:
    """`sectorbot worker`: the jobs only, sending through the Bot API, reading no updates."""
    builder = _builder(settings).updater(None)
    if request is not None:
        builder = builder.request(request)
    app: App = builder.build()
    _share(app, service, settings, "jobs", alert_ticks, True)
    return app


def _share(
    app: App,
    service: Service,
    settings: Settings,
    role: str,
    alert_ticks: dict[str, float] | None,
    jobs: bool,
) -> None:
    """Fill in the `BotData` that every handler and job of `app` shares, and start this
    process's heartbeat; with `jobs`, also the rounds that poll feeds and send alerts (they
    run while this process holds the job lease)."""
    ticks = _ticks(settings, alert_ticks)
    data = app.bot_data
    data.service, data.settings = service, settings
    data.limiter = service.rate_limiter(settings.questions_per_minute)
    data.process = process = telegram_workers.attach(app, service, role, ticks)
    fence = process.lease.fenced if jobs else None
    data.alerts = AlertsRuntime.open(
        service, settings, retry_base=ticks.get("retry_base"), fence=fence
    )
    if jobs:
        data.jobs = Jobs(data.alerts, process.lease)
        telegram_alerts.start_jobs(
            app, data.jobs, poll_tick=ticks["poll_tick"], send_tick=ticks["send_tick"]
        )


def _ticks(settings: Settings, changes: dict[str, float] | None) -> dict[str, float]:
    return {"poll_tick": settings.poll_tick, "send_tick": settings.send_tick, **(changes or {})}


def runs_jobs(settings: Settings) -> bool:
    """Whether `sectorbot run` runs the jobs itself: always when polling; in webhook mode
    only on SQLite (one process). On PostgreSQL the webhook workers only answer updates and
    `sectorbot worker` runs the jobs."""
    return not (settings.webhook_url and settings.database_url)


def _serve(service: Service) -> None:
    settings = service.settings
    problem = webhook_problem(settings)
    if problem:
        raise SettingsError(problem)
    app = build_application(service, settings, jobs=runs_jobs(settings))
    if settings.webhook_url:
        log.info("serving a webhook on %s:%s", settings.webhook_listen, settings.webhook_port)
        asyncio.run(telegram_webhook.serve(app, settings, ALLOWED_KINDS))
    else:
        log.info("polling the Bot API for updates")
        app.run_polling(allowed_updates=ALLOWED_KINDS)


class _QuietNetworkLoop(logging.Filter):
    """PTB logs each failed start with a traceback per attempt; we say it in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Network Retry Loop" not in record.getMessage()


def _until_telegram_answers(settings: Settings, start: Callable[[], None]) -> None:
    """Run `start`; while Telegram cannot be reached, say so in one line and try again, each
    wait twice the last (a bot that outlives a network outage must not give up, nor flood
    the log). SIGTERM during a wait ends the process cleanly."""
    logging.getLogger("telegram.ext").addFilter(_QUIET_NETWORK_LOOP)
    host = urlsplit(settings.telegram_api_url).netloc or settings.telegram_api_url
    wait = RETRY_FIRST
    while True:
        try:
            start()
            return
        except NetworkError as exc:  # TimedOut included; InvalidToken is not one
            # First: the event loop that just ended took its signal handlers with it.
            previous = signal.signal(signal.SIGTERM, _exit_quietly)
            reason = one_line(str(exc)) or type(exc).__name__
            log.error("cannot reach Telegram at %s: %s; trying again in %d s",
                      host, reason, wait)  # fmt: skip
        try:
            time.sleep(wait)
        finally:
            signal.signal(signal.SIGTERM, previous)
        wait = min(wait * 2, RETRY_MAX)
        # PTB's run_polling closes the loop it ran on and runs the next start on the current.
        asyncio.set_event_loop(asyncio.new_event_loop())


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


_QUIET_NETWORK_LOOP = _QuietNetworkLoop()


def run_job_worker(service: Service) -> None:
    """Run the jobs until SIGTERM or SIGINT, then give the job lease up."""
    try:
        _until_telegram_answers(
            service.settings,
            lambda: asyncio.run(_work(build_job_application(service, service.settings))),
        )
    except InvalidToken:
        raise SettingsError(
            "Telegram rejected TELEGRAM_BOT_TOKEN (revoked or mistyped?): "
            "copy the current token from @BotFather"
        ) from None


async def _work(app: App) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with app:
        await app.start()
        log.info("job worker started: feeds, alerts and the index catch-up, under the lease")
        try:
            await stop.wait()
        finally:
            await app.stop()
            if app.post_stop is not None:
                await app.post_stop(app)
    log.info("job worker stopped")


def run_bot(service: Service) -> None:
    """Serve until interrupted: long polling, or a webhook when one is configured."""
    try:
        _until_telegram_answers(service.settings, lambda: _serve(service))
    except InvalidToken:
        # PTB's message quotes the token; ours says what to do and quotes nothing.
        raise SettingsError(
            "Telegram rejected TELEGRAM_BOT_TOKEN (revoked or mistyped?): "
            "copy the current token from @BotFather"
        ) from None
