"""/trend: a direction's daily counts as a chart, with the latest figure and its sources."""

from __future__ import annotations

import asyncio

from telegram import Update

from sectorbot.bot.i18n import _, current
from sectorbot.bot.markup import escape
from sectorbot.bot.telegram.reply import after_command, message_text, reply, reply_photo
from sectorbot.bot.telegram.state import Context
from sectorbot.bot.trend.series import DEFAULT_DAYS
from sectorbot.index import directions


async def trend(update: Update, context: Context) -> None:
    """/trend [direction]: the chart of the last 30 days that have reports."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    service = context.bot_data.service
    asked = after_command(message_text(update)).strip()
    if asked:
        direction = directions.resolve(asked)
        if direction is None:
            known = ", ".join(d.name(current()) for d in directions.DIRECTIONS)
            text = _("I don't know a direction called {name}. Try one of: {known}.")
            await reply(message, text.format(name=escape(asked[:64]), known=escape(known)))
            return
    else:
        direction = await asyncio.to_thread(service.followed_direction, chat.id)
    series = await asyncio.to_thread(service.trend, direction, DEFAULT_DAYS)
    if not series.points:
        name = direction.name(current())
        text = _("No report I hold gives daily counts for the {direction} direction yet.")
        await reply(message, text.format(direction=escape(name)))
        return
    from sectorbot.bot.trend.chart import draw  # matplotlib: only when a chart is drawn
    from sectorbot.bot.trend.text import caption_html

    png = await asyncio.to_thread(draw, series)  # the thread sees the update's language

    caption, sources = caption_html(series)
    await reply_photo(message, png, caption, f"trend-{direction.id}.png")
    if sources:
        await reply(message, sources)
