"""Telegram posts as reports: what an admin forwards to the bot, and the live posts of the
channels listed in `SECTORBOT_CHANNELS` (new and edited), which also go through alert matching.

A forwarded copy and the channel's own post get one identity (`corpus.loaders.telegram_post`),
so whichever arrives second changes nothing.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import (
    Message,
    MessageOrigin,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    Update,
)
from telegram.ext import filters

from sectorbot.bot.i18n import _
from sectorbot.bot.markup import escape, shorten
from sectorbot.bot.telegram import alerts as telegram_alerts
from sectorbot.bot.telegram import questions
from sectorbot.bot.telegram.render import render_claim_check
from sectorbot.bot.telegram.reply import reply, typing
from sectorbot.bot.telegram.state import Context
from sectorbot.corpus.ingest import IngestReport
from sectorbot.corpus.loaders.telegram_post import PostOrigin, post_document
from sectorbot.corpus.models import Document, ItemFailure
from sectorbot.corpus.text import has_visible_text, without_surrogates
from sectorbot.index.errors import QueryError

log = logging.getLogger(__name__)


class ListedChannel(filters.UpdateFilter):
    """Posts (new or edited) of a channel named in `SECTORBOT_CHANNELS`, by id or username."""

    def __init__(self, channels: frozenset[str]) -> None:
        super().__init__(name="ListedChannel")
        self.channels = channels

    def filter(self, update: Update) -> bool:
        post = update.channel_post or update.edited_channel_post
        if post is None:
            return False
        chat = post.chat
        return str(chat.id) in self.channels or (chat.username or "").lower() in self.channels


def post_text(message: Message) -> str:
    """The words of a post: its text, or the caption of a photo, video or album part."""
    return without_surrogates(message.text or message.caption or "")


def origin_of(origin: MessageOrigin) -> PostOrigin:
    """Telegram's `forward_origin` as the corpus knows it."""
    if isinstance(origin, MessageOriginChannel):
        chat = origin.chat
        return PostOrigin(
            "channel", chat.title or "", origin.date, chat.id, origin.message_id,
            chat.username, origin.author_signature,
        )  # fmt: skip
    if isinstance(origin, MessageOriginUser):
        return PostOrigin("user", origin.sender_user.full_name, origin.date)
    if isinstance(origin, MessageOriginHiddenUser):
        return PostOrigin("hidden_user", origin.sender_user_name, origin.date)
    if isinstance(origin, MessageOriginChat):
        chat = origin.sender_chat
        return PostOrigin(
            "chat", chat.title or "", origin.date, chat.id, author=origin.author_signature
        )
    return PostOrigin(origin.type, "", origin.date)


def is_own(message: Message, bot_id: int) -> bool:
    """Whether a forwarded message is the bot's own: written by it, or sent through it
    (inline mode). Storing it would let the bot cite itself later."""
    origin = message.forward_origin
    if isinstance(origin, MessageOriginUser) and origin.sender_user.id == bot_id:
        return True
    return message.via_bot is not None and message.via_bot.id == bot_id


async def forwarded(update: Update, context: Context) -> None:
    """A message an admin forwards in private: stored as a report and searchable at once."""
    message = update.effective_message
    if message is None or message.forward_origin is None:
        return
    if is_own(message, context.bot.id):
        await reply(message, _("That is my own answer: I store reports, not what I said."))
        return
    text = post_text(message)
    if not has_visible_text(text):
        if message.media_group_id is None:  # an album's other parts carry no caption: quiet
            await reply(message, _("That has no text I could store (no caption)."))
        return
    ref = f"telegram:forward:{message.chat_id}:{message.message_id}"
    doc = post_document(
        text, origin_of(message.forward_origin), origin_kind="forward", origin_ref=ref
    )
    service = context.bot_data.service
    report = await asyncio.to_thread(service.add_posts, [doc])
    await reply(message, _outcome(report, doc))


async def check_forwarded(update: Update, context: Context) -> None:
    """A post anyone else forwards: what the reports say about it, for and against."""
    message = update.effective_message
    if message is None:
        return
    text = post_text(message)
    if not text.strip():
        if message.media_group_id is None:
            await reply(message, _("That has no text I could check (no caption)."))
        return
    if await questions.throttled(update, context, message):
        return
    await typing(context.bot, message.chat_id)
    try:
        check = await asyncio.to_thread(context.bot_data.service.check_claim, text)
    except QueryError as exc:  # filter syntax in the post (since:yesterday): the chats' hint
        await reply(message, _("Sorry: {problem}").format(problem=escape(exc)))
        return
    await reply(message, render_claim_check(check))


def _outcome(report: IngestReport, doc: Document | ItemFailure) -> str:
    """What happened to a forwarded post, in one line."""
    if isinstance(doc, ItemFailure) or report.failed:
        reason = doc.reason if isinstance(doc, ItemFailure) else report.failed[0].reason
        return _("I could not store that: {reason}").format(reason=escape(reason))
    title = escape(shorten(doc.title, 80))
    byline = escape(f"{doc.source or '?'}, {(doc.published or '')[:10]}")
    if report.added:
        text = _("Added to the reports: “{title}” ({byline}). Questions find it from now on.")
    elif report.updated:
        text = _("Updated the report I had: “{title}” ({byline}).")
    else:
        text = _("I already had it: “{title}” ({byline}).")
    return text.format(title=title, byline=byline)


async def channel_post(update: Update, context: Context) -> None:
    """A new or edited post of a listed channel: stored, indexed, then matched for alerts."""
    post = update.channel_post or update.edited_channel_post
    if post is None or not post_text(post).strip():
        return
    chat = post.chat
    origin = PostOrigin(
        "channel", chat.title or "", post.date, chat.id, post.message_id, chat.username,
        post.author_signature,
    )  # fmt: skip
    doc = post_document(
        post_text(post), origin, origin_kind="channel", origin_ref=f"telegram:channel:{chat.id}"
    )
    report = await asyncio.to_thread(context.bot_data.service.add_posts, [doc])
    if report.failed:
        log.warning("channel post %s/%s not stored: %s", chat.id, post.message_id,
                    report.failed[0].reason)  # fmt: skip
        return
    if report.added:  # the inbox trigger has it: match now instead of at the next poll tick
        await telegram_alerts.match_now(context)
