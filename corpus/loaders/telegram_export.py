"""A Telegram Desktop export of a channel (`result.json`): one Document per text post.

A post's ext_id is `tg:<chat id>:<post id>` (the chat's @username stands in for an export
without an id), so posts of different channels never share one.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sectorbot.corpus.dates import parse_date
from sectorbot.corpus.models import Document, ItemFailure
from sectorbot.corpus.text import one_line

log = logging.getLogger(__name__)

NOT_EXPORT = "not a Telegram export (no 'messages' list)"
TITLE_CHARS = 100
_USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")


def is_telegram_export(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("messages"), list)


def parse_telegram_json(
    text: str, ref: str, channel: str | None = None
) -> Iterator[Document | ItemFailure]:
    """Decode the export's JSON and yield its posts; every problem is an ItemFailure."""
    try:
        data = json.loads(text)
    except RecursionError:
        yield ItemFailure(ref, "broken JSON: nested too deeply")
        return
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        yield ItemFailure(ref, f"broken JSON: {one_line(str(exc))}")
        return
    yield from parse_telegram_export(data, ref, channel)


def parse_telegram_export(
    data: Any, ref: str, channel: str | None = None
) -> Iterator[Document | ItemFailure]:
    """Posts of an already decoded export.

    `channel` is the public username (with or without "@" or "t.me/") used for post links
    when the export itself does not name one; without either, links use the private form.
    """
    if not is_telegram_export(data):
        yield ItemFailure(ref, NOT_EXPORT)
        return
    chat = _Chat(
        name=str(data.get("name") or ""),
        chat_id=_chat_id(data.get("id")),
        username=_username(data.get("username")) or _username(channel),
    )
    for number, message in enumerate(data["messages"], start=1):
        if not isinstance(message, dict) or message.get("type") != "message":
            continue  # service messages (joins, pins, title changes) are not posts
        item = _isolated_post(message, number, ref, chat)
        if item is not None:
            yield item


def message_text(message: dict[str, Any]) -> str:
    """A post's text: `text` is a string or a list of strings and {"text": ...} parts."""
    raw = message.get("text")
    if raw is None or raw == [] or raw == "":
        raw = message.get("text_entities", "")
    if isinstance(raw, str):
        return raw.strip()
    if not isinstance(raw, list):
        return ""
    parts = (p if isinstance(p, str) else p.get("text") for p in raw if isinstance(p, str | dict))
    return "".join(p for p in parts if isinstance(p, str)).strip()


def post_url(post_id: object, username: str | None, chat_id: str) -> str | None:
    if username:
        return f"https://t.me/{username}/{post_id}"
    return f"https://t.me/c/{chat_id}/{post_id}" if chat_id else None


@dataclass(frozen=True)
class _Chat:
    """What every post of one export shares."""

    name: str
    chat_id: str
    username: str | None

    @property
    def key(self) -> str:
        return self.chat_id or (f"@{self.username}" if self.username else "")


def _isolated_post(
    message: dict[str, Any], number: int, ref: str, chat: _Chat
) -> Document | ItemFailure | None:
    """One post, None for one without text; a broken post costs itself, not the export."""
    post_id = message.get("id")
    try:
        text = message_text(message)
        if not text:
            return None  # media-only posts: nothing to read
        if isinstance(post_id, bool) or not isinstance(post_id, int):
            return ItemFailure(f"{ref}#message{number}", f"message {number} has no numeric id")
        return _post(message, text, ref, chat)
    except ValueError as exc:
        return ItemFailure(f"{ref}#{post_id}", f"message {number}: {one_line(str(exc))}")
    except Exception as exc:  # an error of ours: logged to be fixed, the export goes on
        log.exception("unexpected error reading message %s of %s", number, ref)
        reason = f"message {number}: unexpected error: {type(exc).__name__}: {exc}"
        return ItemFailure(f"{ref}#{post_id}", one_line(reason))


def _post(message: dict[str, Any], text: str, ref: str, chat: _Chat) -> Document:
    post_id = message["id"]
    meta = {}
    if isinstance(message.get("forwarded_from"), str):
        meta["forwarded_from"] = message["forwarded_from"]
    return Document(
        text=text,
        title=_title(text),
        url=post_url(post_id, chat.username, chat.chat_id),
        source=chat.name,
        author=message.get("author") if isinstance(message.get("author"), str) else None,
        published=_post_date(message),
        origin_kind="telegram",
        origin_ref=ref,
        ext_id=f"tg:{chat.key}:{post_id}" if chat.key else None,
        meta=meta,
    )


def _post_date(message: dict[str, Any]) -> str | None:
    # `date` is in the local time of whoever exported; `date_unixtime` is the true instant,
    # so it wins when present and `date` is the fallback for older exports.
    unixtime = message.get("date_unixtime")
    if unixtime not in (None, ""):
        return parse_date(str(unixtime))
    return parse_date(message.get("date"))


def _title(text: str) -> str:
    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    if len(first) <= TITLE_CHARS:
        return first
    cut = first[:TITLE_CHARS].rsplit(" ", 1)[0] or first[:TITLE_CHARS]
    return cut.rstrip(" ,.;:-–—") + "…"


def _chat_id(value: object) -> str:
    """Channel ids appear as 1234567890 in exports and as -1001234567890 in the Bot API."""
    text = str(value or "").strip()
    return text.removeprefix("-100") if text.startswith("-100") else text.lstrip("-")


def _username(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    name = value.strip().removeprefix("https://").removeprefix("http://")
    name = name.removeprefix("t.me/").removeprefix("@").strip("/")
    return name if _USERNAME_RE.match(name) else None
