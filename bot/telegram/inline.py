"""Inline mode: `@bot question` in any chat offers the cited answer, then its top sources,
each as a message the user can post. Nothing is offered when the reports do not know; a
button above the (empty) results says so and opens a private chat with the bot instead.
"""

from __future__ import annotations

import asyncio

from telegram import (
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode

from sectorbot.bot.i18n import _
from sectorbot.bot.markup import shorten, split_message
from sectorbot.bot.telegram.render import render_answer, render_source_entry, safe_url
from sectorbot.bot.telegram.state import Context
from sectorbot.bot.workers.offload import off_loop
from sectorbot.bot.workers.ratelimit import Verdict
from sectorbot.index.answer import Answer
from sectorbot.index.errors import QueryError

CACHE_SECONDS = 300  # answers change only when reports arrive; five minutes of reuse is fine
MAX_SOURCES = 5  # results after the answer: enough to choose from, few enough to scan
MIN_QUESTION = 3  # characters; Telegram sends a query per keystroke
BUTTON_TEXT = 64  # characters: the button above inline results is one short line


async def inline_query(update: Update, context: Context) -> None:
    """@bot <question> anywhere: the cited answer, then its sources; nothing if unknown."""
    query = update.inline_query
    if query is None:
        return
    question = " ".join(query.query.split())
    if sum(ch.isalnum() for ch in question) < MIN_QUESTION:
        await query.answer([], cache_time=CACHE_SECONDS, is_personal=True)
        return
    data = context.bot_data
    # The same per-user limit as questions in chats: inline queries cost a search each.
    verdict = await off_loop(data.limiter.check, query.from_user.id)
    if verdict is not Verdict.ALLOW:
        button = InlineQueryResultsButton(
            _("Too many questions: wait a minute"), start_parameter="limit"
        )
        await query.answer([], cache_time=0, is_personal=True, button=button)
        return
    try:
        answer = await asyncio.to_thread(data.service.ask, question)
    except QueryError as exc:  # a filter it cannot read (since:yesterday): say so above
        button = InlineQueryResultsButton(
            shorten(_("Sorry: {problem}").format(problem=exc), BUTTON_TEXT), start_parameter="help"
        )
        await query.answer([], cache_time=0, is_personal=True, button=button)
        return
    if not answer.answered:
        button = InlineQueryResultsButton(
            _("My reports don't answer that: ask me in a chat"), start_parameter="noanswer"
        )
        await query.answer([], cache_time=CACHE_SECONDS, is_personal=True, button=button)
        return
    await query.answer(_results(answer), cache_time=CACHE_SECONDS, is_personal=True)


def _results(answer: Answer) -> list[InlineQueryResultArticle]:
    """The answer first (its first message's worth), then one result per cited source."""
    html = split_message(render_answer(answer))[0]
    first = answer.sentences[0].text if answer.sentences else answer.question
    results = [
        InlineQueryResultArticle(
            id="answer",
            title=shorten(answer.question, 100),
            description=shorten(first, 200),
            input_message_content=_content(html),
        )
    ]
    for source in answer.sources[:MAX_SOURCES]:
        results.append(
            InlineQueryResultArticle(
                id=f"source-{source.n}",
                title=shorten(source.title or _("(untitled)"), 100),
                description=", ".join(
                    [source.publisher or _("unknown publisher"), source.date or _("undated")]
                ),
                url=safe_url(source.url),
                input_message_content=_content(render_source_entry(source)),
            )
        )
    return results


def _content(html: str) -> InputTextMessageContent:
    return InputTextMessageContent(
        html, parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
    )
