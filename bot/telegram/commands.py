"""The bot's commands in one table, from which the handlers, the menus and /help all come.

`bot.telegram.app` puts `handlers(admins)` in its handler table and calls `publish_menus`
when the bot starts: public commands in everyone's menu, admin ones added in each admin's own
chat, each menu in English (also the menu for languages the bot does not speak), Ukrainian
and Russian.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import CommandHandler, filters

from sectorbot.bot.i18n import LANGUAGES, N_, _, language
from sectorbot.bot.markup import bold, escape
from sectorbot.bot.telegram import admin, questions
from sectorbot.bot.telegram import alerts as telegram_alerts
from sectorbot.bot.telegram import language as telegram_language
from sectorbot.bot.telegram import trend as telegram_trend
from sectorbot.bot.telegram.reply import reply
from sectorbot.bot.telegram.state import App, Context, is_admin

log = logging.getLogger(__name__)

Callback = Callable[[Update, Context], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Command:
    """One command: its name, what it does (a message id, translated where shown) and the
    handler it runs."""

    name: str
    description: str
    callback: Callback
    # For the bot's admins: listed in their menus only, and anyone else gets a polite no.
    admin: bool = False
    # An admin command whose callback refuses everyone else itself, in its own words.
    refuses_itself: bool = False
    # Listed in the menus and /help.
    menu: bool = True


async def help_command(update: Update, context: Context) -> None:
    """/help: the commands this user may use."""
    if not update.effective_message:
        return
    lines = [
        bold(_("How to use me")),
        _("Send a question (in groups: /ask or mention me)."),
        "",
    ]
    listed = menu(admins=is_admin(update, context))
    lines += [f"/{c.name} — {escape(_(c.description))}" for c in listed]
    lines += [
        "",
        _("Filters: since:2025-01-01 until:2025-02-01 in a question narrow the dates."),
        _("/language changes the language I use in this chat."),
    ]
    await reply(update.effective_message, "\n".join(lines))


# In the order of the menus: public commands, then those the admins also see.
COMMANDS = (
    Command("ask", N_("Ask a question about the Pokrovsk sector"), questions.ask),
    Command("sources", N_("Reports I hold, matching a query or the newest"), questions.sources),
    Command("latest", N_("The newest reports"), questions.latest),
    Command("about", N_("How much I know and how fresh it is"), questions.about),
    Command("trend", N_("Daily attacks on a direction, as a chart"), telegram_trend.trend),
    Command("language", N_("The language I use in this chat"), telegram_language.choose_language),
    Command("help", N_("How to use this bot"), help_command),
    Command("start", N_("Introduction"), questions.start),
    Command(
        "subscribe",
        N_("Alerts for places, keywords or topics in this chat"),
        telegram_alerts.subscribe,
    ),
    Command(
        "subscriptions",
        N_("This chat's alert subscriptions"),
        telegram_alerts.list_subscriptions,
    ),
    Command(
        "unsubscribe",
        N_("Remove an alert subscription (number or 'all')"),
        telegram_alerts.unsubscribe,
    ),
    Command(
        "digest", N_("At most one alert message every N hours, or 'off'"), telegram_alerts.digest
    ),
    Command("quiet", N_("Quiet hours, e.g. 23-7 (UTC), or 'off'"), telegram_alerts.quiet),
    Command(
        "reindex",
        N_("Rebuild the search index (add 'full' to start over)"),
        admin.reindex,
        admin=True,
    ),
    Command("ingest", N_("Fetch, store and index web pages by URL"), admin.ingest, admin=True),
    Command("addfeed", N_("Follow a news feed"), admin.addfeed, admin=True),
    Command("feeds", N_("List the feeds followed"), admin.feeds, admin=True),
    Command("removefeed", N_("Stop following a feed"), admin.removefeed, admin=True),
    Command("stats", N_("Numbers about the corpus, index and questions"), admin.stats, admin=True),
    Command(
        "alertstatus",
        N_("Feeds, alert queue and deliveries"),
        telegram_alerts.alertstatus,
        admin=True,
        refuses_itself=True,
    ),
)


def menu(admins: bool) -> list[Command]:
    """The commands a menu lists: the public ones, and for admins theirs after them."""
    return [c for c in COMMANDS if c.menu and (admins or not c.admin)]


def handlers(admins: filters.BaseFilter) -> list[CommandHandler[Context, None]]:
    """A handler per command, then the refusal of admin commands to everyone else."""
    table: list[CommandHandler[Context, None]] = [
        CommandHandler(c.name, c.callback, filters=admins if _gated(c) else None) for c in COMMANDS
    ]
    refused = [c.name for c in COMMANDS if _gated(c)]
    return [*table, CommandHandler(refused, admin.not_admin)]


def _gated(command: Command) -> bool:
    """Whether only admins' messages reach the command's callback."""
    return command.admin and not command.refuses_itself


def _bot_commands(commands: list[Command]) -> list[BotCommand]:
    """Commands with their descriptions in the current language."""
    return [BotCommand(c.name, _(c.description)) for c in commands]


async def publish_menus(app: App) -> None:
    """Public commands for everyone; admin ones only in each admin's own chat menu.

    English is also the menu for any other language (no `language_code`); Ukrainian and
    Russian apps get their own.
    """
    for code in ("", *LANGUAGES):
        with language(code or "en"):
            public, everything = _bot_commands(menu(False)), _bot_commands(menu(True))
        try:
            await app.bot.set_my_commands(
                public, scope=BotCommandScopeDefault(), language_code=code or None
            )
        except TelegramError as exc:
            log.warning("could not set the command menu (%s): %s", code or "default", exc)
        for admin_id in sorted(app.bot_data.settings.admin_ids):
            try:
                await app.bot.set_my_commands(
                    everything, scope=BotCommandScopeChat(admin_id), language_code=code or None
                )
            except TelegramError as exc:  # e.g. the admin has not started a chat with the bot
                log.warning("could not set the admin menu for %s: %s", admin_id, exc)
