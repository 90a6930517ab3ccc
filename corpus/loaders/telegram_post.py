"""One Telegram post, forwarded to the bot or read live from a channel, as a Document.

The identity is the one the channel-export loader (`telegram_export`) gives the same post:
`ext_id` "tg:<channel number>:<post id>" and the public t.me link when the channel has a
username, so a post stored from an export, a forwarded copy and the live channel post are one
document, whichever comes first. Posts whose origin has no post id (a user, a hidden user, a
group writing as itself) have no such identity; the store's content hash still keeps one copy.

This module knows nothing of Telegram libraries: the bot hands it plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sectorbot.corpus.dates import parse_date
from sectorbot.corpus.loaders.telegram_export import _chat_id, _title, _username, post_url
from sectorbot.corpus.models import Document, ItemFailure
from sectorbot.corpus.text import has_visible_text

ORIGIN_KINDS = ("channel", "user", "hidden_user", "chat")


@dataclass(frozen=True)
class PostOrigin:
    """Where a post was first published, as Telegram's `forward_origin` (or a channel) says."""

    kind: str  # one of ORIGIN_KINDS
    name: str  # channel or group title, the user's name, or the hidden user's shown name
    date: datetime | int | str  # when it was first published
    chat_id: int | None = None  # channel or group
    message_id: int | None = None  # the post's id in its channel
    username: str | None = None  # the channel's public @username
    author: str | None = None  # a channel's author signature


def post_document(
    text: str, origin: PostOrigin, *, origin_kind: str, origin_ref: str
) -> Document | ItemFailure:
    """The post as a Document (publisher = the channel or sender, published = the original
    date); an ItemFailure when it has no text or an unreadable date."""
    text = text.strip()
    ref = origin_ref
    if not has_visible_text(text):
        return ItemFailure(ref, "no text (a photo or file without a caption)")
    if origin.kind not in ORIGIN_KINDS:
        return ItemFailure(ref, f"unknown forward origin {origin.kind!r}")
    try:
        published = parse_date(_timestamp(origin.date))
    except ValueError as exc:
        return ItemFailure(ref, str(exc))
    ext_id = url = None
    if origin.kind == "channel" and origin.chat_id is not None and origin.message_id:
        channel = _chat_id(origin.chat_id)
        ext_id = f"tg:{channel}:{origin.message_id}"
        url = post_url(origin.message_id, _username(origin.username), channel)
    return Document(
        text=text,
        title=_title(text),
        url=url,
        source=origin.name,
        author=origin.author,
        published=published,
        origin_kind=origin_kind,
        origin_ref=ref,
        ext_id=ext_id,
        meta={"forward_origin": origin.kind},
    )


def _timestamp(value: datetime | int | str) -> int | str:
    return int(value.timestamp()) if isinstance(value, datetime) else value
