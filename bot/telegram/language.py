"""Which language the bot speaks in a chat, and /language to choose one for the chat.

A chat that chose a language (stored, so it outlives restarts) gets it; otherwise each user
gets their Telegram app's language when it is one the bot speaks, and English when not.
`localized` wraps every handler in the table so that all the text it builds is in that
language.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update

from sectorbot.bot.i18n import DEFAULT, LANGUAGES, NAMES, _, choose, language
from sectorbot.bot.telegram import alerts as telegram_alerts
from sectorbot.bot.telegram.reply import after_command, message_text, reply
from sectorbot.bot.telegram.state import Context
from sectorbot.corpus.database import database_errors
from sectorbot.corpus.errors import StoreError

AUTO = "auto"
Callback = Callable[[Any, Context], Coroutine[Any, Any, Any]]


async def chat_choice(context: Context, chat_id: int) -> str | None:
    """The language a chat chose, read from the store once and then remembered."""
    data = context.bot_data
    if chat_id not in data.chat_languages:
        stored = await asyncio.to_thread(data.service.chat_language, chat_id)
        data.chat_languages[chat_id] = stored
    return data.chat_languages[chat_id]


async def language_for(update: object, context: Context) -> str:
    """The language to answer this update in."""
    if not isinstance(update, Update):
        return DEFAULT
    chat = update.effective_chat
    try:
        chosen = await chat_choice(context, chat.id) if chat is not None else None
    except (*database_errors(), StoreError):  # type: ignore[misc]  # a tuple at run time
        # The store is unreachable: answer anyway (the error handler too) in the person's
        # own Telegram language; the failure itself is reported where it stops the handler.
        chosen = None
    if chosen:
        return chosen
    user = update.effective_user
    return choose(user.language_code if user else None)


def localized(callback: Callback) -> Callback:
    """`callback`, run in the language of the update it handles."""

    @functools.wraps(callback)
    async def run(update: Any, context: Context) -> Any:
        with language(await language_for(update, context)):
            return await callback(update, context)

    return run


def _choices() -> str:
    lines = [f"/language {code} — {NAMES[code]}" for code in LANGUAGES]
    lines.append(f"/language {AUTO} — " + _("each person's Telegram language"))
    return "\n".join(lines)


async def choose_language(update: Update, context: Context) -> None:
    """/language [uk|ru|en|auto]: the language for this chat (groups: their admins choose)."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    arg = after_command(message_text(update)).strip().lower()
    if arg not in (*LANGUAGES, AUTO):
        current = await chat_choice(context, chat.id)
        head = (
            _("This chat uses {name}.").format(name=NAMES[current])
            if current
            else _("This chat follows each person's Telegram language.")
        )
        await reply(message, head + "\n\n" + _choices())
        return
    if not await telegram_alerts.may_change_chat(update, context):
        await reply(message, _("Only the group's administrators can change its language."))
        return
    chosen = None if arg == AUTO else arg
    data = context.bot_data
    await asyncio.to_thread(data.service.set_chat_language, chat.id, chosen)
    data.chat_languages[chat.id] = chosen
    user = update.effective_user
    with language(chosen or choose(user.language_code if user else None)):
        if chosen:
            text = _("From now on I write in {name} in this chat.").format(name=NAMES[chosen])
        else:
            text = _("From now on I write in each person's Telegram language in this chat.")
        await reply(message, text)
