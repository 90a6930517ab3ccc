"""Alerts through Telegram: the `Transport` the alert sender delivers digests with.

`classify` sorts the Bot API's errors: 429, 5xx and network trouble are retried; 403 and the
400s that mean the chat cannot be written to again deactivate it; a group that became a
supergroup moves; anything else is retried and finally given up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from telegram import Bot, LinkPreviewOptions
from telegram import error as tg
from telegram.constants import ParseMode

from sectorbot.bot.alerts.send import Failure
from sectorbot.corpus.text import one_line

# 403s and these 400s mean the chat cannot be written to again; retrying is pointless.
_GONE_PHRASES = (
    "chat not found",
    "group chat was deactivated",
    "chat_write_forbidden",
    "not enough rights to send",
    "user is deactivated",
    "peer_id_invalid",
)


@dataclass(frozen=True)
class TelegramTransport:
    """Delivers alert digests with one PTB `Bot`."""

    bot: Bot

    async def deliver(self, chat_id: int, html: str, *, previews: bool) -> int:
        sent = await self.bot.send_message(
            chat_id,
            html,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=not previews),
        )
        return sent.message_id

    def classify(self, exc: BaseException) -> Failure:
        return classify(exc)


def classify(exc: BaseException) -> Failure:
    """Sort a send error: transient (retry), the chat is gone, or something else."""
    reason = one_line(f"{type(exc).__name__}: {exc}", 300)
    if isinstance(exc, tg.RetryAfter):
        # PTB 22.2+ keeps a timedelta privately; the public attribute warns about its type.
        wait = getattr(exc, "_retry_after", None) or exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        return Failure("retry", reason, delay=seconds)
    if isinstance(exc, tg.ChatMigrated):
        return Failure("migrate", reason, new_chat_id=int(exc.new_chat_id))
    if isinstance(exc, tg.Forbidden):
        return Failure("gone", reason)
    if isinstance(exc, tg.BadRequest):
        gone = any(p in str(exc).lower() for p in _GONE_PHRASES)
        return Failure("gone" if gone else "failed", reason)
    # TimedOut, NetworkError (5xx included), other API errors and anything unexpected:
    # transient as far as we can tell, so retried and never dropped.
    return Failure("retry", reason)
