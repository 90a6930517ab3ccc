"""The 👍/👎 buttons under an answer: anyone who sees the answer may vote, once, changeably.

The buttons carry the key the feedback store gave the answer, so a vote counts even after a
restart; a key the store does not know (forged, or from another bot) is refused.
"""

from __future__ import annotations

import asyncio
import re

from telegram import Update

from sectorbot.bot.i18n import N_, _
from sectorbot.bot.telegram.state import Context

VOTE_UP, VOTE_DOWN = "up", "down"
PATTERN = re.compile(rf"^(?:{VOTE_UP}|{VOTE_DOWN}):")
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
UNKNOWN = N_("I can't find that answer any more, so the vote was not counted.")
THANKS = {
    ("new", True): N_("Thanks! Marked as helpful."),
    ("new", False): N_("Thanks! Marked as wrong or unhelpful; it will be reviewed."),
    ("changed", True): N_("Vote changed to 👍."),
    ("changed", False): N_("Vote changed to 👎."),
    ("same", True): N_("You already voted 👍."),
    ("same", False): N_("You already voted 👎."),
}


async def vote(update: Update, context: Context) -> None:
    """A 👍 or 👎 press: record one vote per user and answer, and say what happened."""
    query = update.callback_query
    if query is None:
        return
    kind, _sep, key = (query.data or "").partition(":")
    if not _KEY.match(key):
        await query.answer(_(UNKNOWN), show_alert=True)
        return
    up = kind == VOTE_UP
    service = context.bot_data.service
    outcome = await asyncio.to_thread(service.vote, key, query.from_user.id, up)
    if outcome is None:
        await query.answer(_(UNKNOWN), show_alert=True)
        return
    await query.answer(_(THANKS[outcome, up]))
