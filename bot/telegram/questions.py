"""Questions in Telegram: private messages, /ask, mentions and replies in groups, the
Sources/More buttons, and the public commands (/start, /sources, /latest, /about; /help is
with the command table in `commands`).

Service calls are synchronous and CPU-bound, so handlers run them in worker threads
(`asyncio.to_thread`) and the event loop stays free for other chats.
"""

from __future__ import annotations

import asyncio
import functools
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.ext import filters

from sectorbot.bot.i18n import DEFAULT, LANGUAGES, N_, _, current, language
from sectorbot.bot.markup import escape
from sectorbot.bot.telegram.feedback import VOTE_DOWN, VOTE_UP
from sectorbot.bot.telegram.language import chat_choice
from sectorbot.bot.telegram.render import (
    render_about,
    render_answer,
    render_documents,
    render_more,
    render_sources,
)
from sectorbot.bot.telegram.reply import after_command, message_text, reply, send, typing
from sectorbot.bot.telegram.state import Context
from sectorbot.bot.workers.offload import off_loop
from sectorbot.bot.workers.ratelimit import Verdict
from sectorbot.index.errors import QueryError

GROUP_TYPES = (ChatType.GROUP, ChatType.SUPERGROUP)
MAX_QUESTION = 1000  # characters; longer is almost always a paste, not a question
EXAMPLE = N_("Who captured the lithium deposit near Shevchenko?")
EXPIRED = N_("That answer has expired. Please ask the question again.")
NEWEST = N_("The newest reports")
NO_REPORTS = N_(
    "I hold no reports yet: an admin adds them with /ingest, by forwarding posts to me, "
    "or with `sectorbot ingest` on the server."
)


@functools.lru_cache(maxsize=8)
def _mention_re(username: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w@])@{re.escape(username)}(?!\w)", re.IGNORECASE)


def _strip_mention(text: str, username: str | None) -> str:
    return _mention_re(username).sub(" ", text) if username else text


def _answer_keyboard(key: str) -> InlineKeyboardMarkup:
    """Sources and More, then the votes; all carry the same key (at most 17 bytes of data)."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(_("Sources"), callback_data=f"src:{key}"),
                InlineKeyboardButton(_("More"), callback_data=f"more:{key}"),
                InlineKeyboardButton("👍", callback_data=f"{VOTE_UP}:{key}"),
                InlineKeyboardButton("👎", callback_data=f"{VOTE_DOWN}:{key}"),
            ]
        ]
    )


def _example() -> str:
    """The example question, on a line of its own, in the current language."""
    return f"\n{escape(_(EXAMPLE))}"


class AddressedInGroup(filters.MessageFilter):
    """Group messages meant for the bot: they mention it or reply to one of its messages."""

    def filter(self, message: Message) -> bool:
        bot = message.get_bot()
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
            return True
        username = bot.username
        return bool(username and message.text and _mention_re(username).search(message.text))


async def throttled(update: Update, context: Context, message: Message) -> bool:
    """Count one search for this user; True (after one notice per window) when over the limit."""
    limiter = context.bot_data.limiter
    key = update.effective_user.id if update.effective_user else message.chat_id
    verdict = await off_loop(limiter.check, key)  # a database round trip
    if verdict is Verdict.NOTIFY:
        text = _(
            "You're asking faster than I can answer: at most {limit} questions a minute. "
            "Try again in {seconds} s."
        )
        wait = await off_loop(limiter.retry_after, key)
        await reply(message, text.format(limit=limiter.limit, seconds=f"{wait:.0f}"))
    return verdict is not Verdict.ALLOW


async def _answer(update: Update, context: Context, question: str) -> None:
    """Check, rate-limit and answer one question, with Sources/More buttons."""
    message = update.effective_message
    # Checked before anything else, so that a flood of bad input is throttled as well.
    if message is None or await throttled(update, context, message):
        return
    data = context.bot_data
    question = question.strip()
    if not any(ch.isalnum() for ch in question):
        await reply(message, _("Please send me a question in words, e.g.") + _example())
        return
    if len(question) > MAX_QUESTION:
        text = _("That is {length} characters; please keep a question under {limit} characters.")
        await reply(message, text.format(length=f"{len(question):,}", limit=f"{MAX_QUESTION:,}"))
        return
    await typing(context.bot, message.chat_id)
    try:
        answer = await asyncio.to_thread(data.service.ask, question)
    except QueryError as exc:
        await reply(message, _("Sorry: {problem}").format(problem=escape(exc)))
        return
    keyboard = None
    if answer.answered:
        # Recorded in the store so that votes count even after a restart empties the cache.
        key = await asyncio.to_thread(data.service.record_answer, answer)
    empty = not answer.answered and await asyncio.to_thread(data.service.is_empty)
    with language(await _reader_language(context, message.chat_id, answer.language)):
        if answer.answered:
            keyboard = _answer_keyboard(data.answers.put(answer, key))
        text = render_answer(answer)
        if empty:  # "I don't know" alone would hide that nothing was ever added
            text += "\n\n" + escape(_(NO_REPORTS))
        await reply(message, text, keyboard)


async def _reader_language(context: Context, chat_id: int, asked: str) -> str:
    """The language the answer's own lines are in: the chat's chosen one, else the person's
    Telegram language, except that a Ukrainian or Russian question from someone whose
    Telegram is in English (or a language the bot does not speak) is answered in its own."""
    if await chat_choice(context, chat_id) or current() != DEFAULT:
        return current()
    return asked if asked in LANGUAGES else DEFAULT


async def private_text(update: Update, context: Context) -> None:
    """In a private chat any text is a question."""
    await _answer(update, context, message_text(update))


async def group_text(update: Update, context: Context) -> None:
    """A group message that mentions the bot or replies to it is a question."""
    await _answer(update, context, _strip_mention(message_text(update), context.bot.username))


async def ask(update: Update, context: Context) -> None:
    """/ask <question>: the way to ask in groups (works everywhere)."""
    question = _strip_mention(after_command(message_text(update)), context.bot.username)
    if not question.strip():
        if update.effective_message:
            text = _("Ask me a question after the command, e.g.")
            await reply(update.effective_message, text + f"\n/ask {escape(_(EXAMPLE))}")
        return
    await _answer(update, context, question)


async def button(update: Update, context: Context) -> None:
    """The Sources / More buttons under an answer."""
    query = update.callback_query
    chat = update.effective_chat
    if query is None or chat is None:
        return
    kind, _sep, key = (query.data or "").partition(":")
    data = context.bot_data
    answer = data.answers.get(key) if kind in ("src", "more") else None
    if answer is None and kind in ("src", "more"):
        # Answered by another worker, or before a restart: asked again from the store.
        answer = await asyncio.to_thread(data.service.recall_answer, key)
        if answer is not None:
            data.answers.put(answer, key)
    if answer is None:
        await query.answer(_(EXPIRED), show_alert=True)
        return
    await query.answer()
    if kind == "src":
        html = render_sources(answer)
    else:
        ids = [s.chunk_id for s in answer.more]
        passages = await asyncio.to_thread(data.service.passages, ids)
        html = render_more(answer, passages)
    if isinstance(query.message, Message):
        await reply(query.message, html, quote=True)
    else:  # too old for Telegram to include: send it plainly
        await send(context.bot, chat.id, html)


async def start(update: Update, context: Context) -> None:
    """/start: what the bot is and how to ask."""
    if update.effective_message:
        await reply(
            update.effective_message,
            _(
                "Hello! I answer questions about the Pokrovsk sector of the war, quoting the "
                "reports I hold and citing each one."
            )
            + "\n\n"
            + _("Just send me a question, e.g.")
            + f"\n<i>{escape(_(EXAMPLE))}</i>\n\n"
            + _("In a group, use /ask or mention me. /help lists everything.")
            + _privacy_note(update, context),
        )


def _privacy_note(update: Update, context: Context) -> str:
    """In a group, when privacy mode hides ordinary messages: what works and how to change it."""
    chat = update.effective_chat
    if chat is None or chat.type not in GROUP_TYPES or context.bot.can_read_all_group_messages:
        return ""
    return "\n\n" + _(
        "Privacy mode is on, so I don't see ordinary messages in this group: /ask and replies "
        "to my messages work, but a mention may not reach me. To have me answer mentions, the "
        "bot's owner sends /setprivacy to @BotFather, picks this bot and chooses Disable, then "
        "removes me from this group and adds me again."
    )


async def sources(update: Update, context: Context) -> None:
    """/sources [query]: reports matching a query, or the newest ones."""
    message = update.effective_message
    if message is None:
        return
    query = " ".join(after_command(message_text(update)).split())[:MAX_QUESTION]
    if query and await throttled(update, context, message):  # a query costs a search
        return
    try:
        rows = await asyncio.to_thread(context.bot_data.service.sources, query or None)
    except QueryError as exc:
        await reply(message, _("Sorry: {problem}").format(problem=escape(exc)))
        return
    heading = _("Reports matching “{query}”").format(query=query) if query else _(NEWEST)
    await reply(message, render_documents(rows, heading))


async def latest(update: Update, context: Context) -> None:
    """/latest: the newest reports."""
    if update.effective_message:
        rows = await asyncio.to_thread(context.bot_data.service.latest)
        await reply(update.effective_message, render_documents(rows, _(NEWEST)))


async def about(update: Update, context: Context) -> None:
    """/about: corpus size, date range, index freshness and model."""
    if update.effective_message:
        info = await asyncio.to_thread(context.bot_data.service.about)
        await reply(update.effective_message, render_about(info))


async def unknown_command(update: Update, context: Context) -> None:
    """A command the bot does not have (private chats only; groups may have other bots)."""
    if update.effective_message:
        command = (
            message_text(update).split(maxsplit=1)[0][:64] if message_text(update).strip() else "?"
        )
        text = _("I don't know {command}. /help lists what I can do.")
        await reply(update.effective_message, text.format(command=escape(command)))


async def not_text(update: Update, context: Context) -> None:
    """Stickers, photos and the like in a private chat."""
    if update.effective_message:
        await reply(update.effective_message, _("I can only read text. Please type a question."))
