"""Channels and forwarded messages: what a channel posts (``channel_post``, and
``edited_channel_post`` when it edits), and users forwarding posts to the bot.

Owns: channel registration, the ``forward_origin`` objects Telegram attaches to a forwarded
message (``channel``, ``user``, ``hidden_user``, ``chat``), and album parts (a photo each,
one ``media_group_id``, the caption on one of them).
"""

from __future__ import annotations

import time
from typing import Any

from tests.fakebotapi.world import ChatState, World, copy_json

# A photo as Telegram describes one (sizes and ids; the fake serves no file behind it).
_PHOTO = [{"file_id": "AgACAgIAAxkBAAIB", "file_unique_id": "AQADAgAT", "width": 90, "height": 60}]


class PostMethods(World):
    """Channel posts and forwards, written by tests."""

    def add_channel(
        self, chat_id: int, title: str, username: str | None = None, *, bot_is_admin: bool = True
    ) -> int:
        """Register a channel (ids look like -100...); the bot is one of its admins or not."""
        if chat_id > -1_000_000_000_000:
            raise ValueError("channel ids are -100 followed by the channel's number")
        status = "administrator" if bot_is_admin else "left"
        with self._cond:
            self._chats[chat_id] = ChatState(
                id=chat_id,
                type="channel",
                title=title,
                username=username,
                members={self.bot_id: status},
                bot_status=status,
            )
        return chat_id

    def post_in_channel(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        caption: str | None = None,
        author_signature: str | None = None,
        media_group_id: str | None = None,
    ) -> tuple[int, int]:
        """The channel publishes a post; (update id, message id). Only admin bots get it."""
        with self._cond:
            chat = self._require_channel(chat_id)
            message = {
                "message_id": self._next_message_id(chat),
                "sender_chat": chat.to_json(),
                "chat": chat.to_json(),
                "date": int(time.time()),
            }
            _fill(message, text, caption, media_group_id)
            if author_signature:
                message["author_signature"] = author_signature
            chat.messages[message["message_id"]] = message
            hidden = chat.bot_status != "administrator"
            return self._enqueue("channel_post", message, hidden=hidden), message["message_id"]

    def edit_channel_post(self, chat_id: int, message_id: int, text: str) -> int:
        """The channel edits a post's text; the bot gets ``edited_channel_post``."""
        with self._cond:
            chat = self._require_channel(chat_id)
            message = self._require_message(chat, message_id)
            message["text"] = text
            message["edit_date"] = max(int(time.time()), message["date"] + 1)
            hidden = chat.bot_status != "administrator"
            return self._enqueue("edited_channel_post", copy_json(message), hidden=hidden)

    def channel_origin(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """``forward_origin`` of a forwarded channel post (its original id, date, signature)."""
        with self._cond:
            chat = self._require_channel(chat_id)
            original = self._require_message(chat, message_id)
            origin = {
                "type": "channel",
                "date": original["date"],
                "chat": chat.to_json(),
                "message_id": message_id,
            }
            if original.get("author_signature"):
                origin["author_signature"] = original["author_signature"]
            return origin

    def user_origin(self, user_id: int, date: int) -> dict[str, Any]:
        """``forward_origin`` of a message first written by a user who allows linking."""
        with self._cond:
            return {"type": "user", "date": date, "sender_user": self._user_json(user_id)}

    @staticmethod
    def hidden_user_origin(name: str, date: int) -> dict[str, Any]:
        """``forward_origin`` of a message by a user who hides their account in forwards."""
        return {"type": "hidden_user", "date": date, "sender_user_name": name}

    def chat_origin(
        self, chat_id: int, date: int, author_signature: str | None = None
    ) -> dict[str, Any]:
        """``forward_origin`` of a message a group sent as itself (an anonymous admin)."""
        with self._cond:
            origin = {"type": "chat", "date": date, "sender_chat": self._chats[chat_id].to_json()}
        if author_signature:
            origin["author_signature"] = author_signature
        return origin

    def forward_to_bot(
        self,
        chat_id: int,
        user_id: int,
        origin: dict[str, Any],
        text: str | None = None,
        *,
        caption: str | None = None,
        media_group_id: str | None = None,
        via_bot: bool = False,
    ) -> int:
        """A user forwards a message (or one part of an album) into a chat with the bot;
        `via_bot`: the message was first sent through this bot's inline mode."""
        if origin.get("type") not in ("user", "hidden_user", "chat", "channel"):
            raise ValueError(f"not a MessageOrigin type: {origin.get('type')!r}")
        with self._cond:
            chat = self._require_chat(chat_id)
            message = self._new_message(chat, self._sender(chat, user_id))
            message["forward_origin"] = copy_json(origin)
            _fill(message, text, caption, media_group_id)
            if via_bot:
                message["via_bot"] = self._user_json(self.bot_id)
            chat.messages[message["message_id"]] = message
            # `_sender` and `_reaches_bot` come from UpdateMethods, beside this in FakeBotAPI.
            return self._enqueue("message", message, hidden=not self._reaches_bot(chat, message))

    def _require_channel(self, chat_id: int) -> ChatState:
        chat = self._require_chat(chat_id)
        if chat.type != "channel":
            raise ValueError(f"chat {chat_id} is a {chat.type}, not a channel")
        return chat


def _fill(
    message: dict[str, Any], text: str | None, caption: str | None, media_group_id: str | None
) -> None:
    """Text, or a photo with an optional caption (album parts share `media_group_id`)."""
    if text is not None and (caption is not None or media_group_id is not None):
        raise ValueError("a message has text, or a photo with a caption, not both")
    if text is not None:
        message["text"] = text
        return
    message["photo"] = copy_json(_PHOTO)
    if caption is not None:
        message["caption"] = caption
    if media_group_id is not None:
        message["media_group_id"] = media_group_id
