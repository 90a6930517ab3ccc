"""The one way the bot answers a message in Telegram, and how it reads the text it got.

Every reply goes through `reply`: the HTML it is given (built with `markup.escape`
around anything a user or a report wrote) is split at Telegram's 4,096-character limit, and
a keyboard, if any, goes under the last part. A chart goes through `reply_photo`.
"""

from __future__ import annotations

import logging
import re

from telegram import Bot, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError

from sectorbot.bot.markup import split_message
from sectorbot.corpus.text import without_surrogates

log = logging.getLogger(__name__)

_COMMAND = re.compile(r"^\s*/\S*\s*")


async def reply(
    message: Message,
    html: str,
    keyboard: InlineKeyboardMarkup | None = None,
    quote: bool | None = None,
) -> Message:
    """Send HTML as one or more messages in answer to `message`; the last one sent.

    `quote` None quotes in groups only (Telegram's default); True always shows what is
    answered, as for a button pressed under an older message.
    """
    parts = split_message(html) or ["(empty)"]
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        sent = await message.reply_text(
            part, reply_markup=keyboard if last else None, do_quote=quote
        )
    return sent


async def reply_photo(message: Message, png: bytes, caption_html: str, filename: str) -> Message:
    """Send a picture in answer to `message`, with an HTML caption the caller kept within
    Telegram's 1,024 characters (`markup.visible_length`)."""
    return await message.reply_photo(png, caption=caption_html, filename=filename)


async def send(bot: Bot, chat_id: int, html: str) -> None:
    """Send HTML to a chat, split like `reply`, when there is no message to answer."""
    for part in split_message(html) or ["(empty)"]:
        await bot.send_message(chat_id, part)


async def typing(bot: Bot, chat_id: int) -> None:
    """Show "typing…" while an answer is worked out."""
    # Only a courtesy: a failure here must not cost the user the answer.
    try:
        await bot.send_chat_action(chat_id, ChatAction.TYPING)
    except TelegramError as exc:
        log.debug("typing action failed: %s", exc)


def message_text(update: Update) -> str:
    """The text of the update's message, safe to encode (no lone surrogates)."""
    message = update.effective_message
    return without_surrogates(message.text or "") if message else ""


def after_command(text: str) -> str:
    """What follows `/command` or `/command@bot`, with newlines kept."""
    return _COMMAND.sub("", text, count=1)
