"""Updates: users writing to the bot, the queue, and the bot fetching it.

Owns: ``send_text`` and ``add_update`` (what tests make users do), ``getUpdates`` long polling
with offsets, limits and ``allowed_updates``, the webhook methods (a webhook blocks polling),
and reading the queue's state back in tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.fakebotapi.entities import detect_incoming_entities
from tests.fakebotapi.wire import CONFLICT_OTHER_POLL, ApiError, MethodResult, Params, bad_request
from tests.fakebotapi.world import ChatState, World, copy_json, without_reply

_POLL_SLICE = 0.05  # seconds between "is the long-polling client still there?" checks
_MAX_POLL_TIMEOUT = 50.0
_WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)


class UpdateMethods(World):
    """The update queue, from the users who fill it to the bot that empties it."""

    # ---------------------------------------------------------------- what users do

    def send_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        reply_to_message_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> int:
        """A user writes ``text`` in a chat; returns the update id.

        ``bot_command`` and ``mention`` entities are added like Telegram does unless
        ``entities`` is given explicitly.
        """
        with self._cond:
            chat = self._require_chat(chat_id)
            message = self._new_message(chat, self._sender(chat, user_id))
            if reply_to_message_id is not None:
                replied = self._require_message(chat, reply_to_message_id)
                message["reply_to_message"] = without_reply(replied)
            message["text"] = text
            found = detect_incoming_entities(text) if entities is None else list(entities)
            if found:
                message["entities"] = found
            chat.messages[message["message_id"]] = message
            return self._enqueue("message", message, hidden=not self._reaches_bot(chat, message))

    def set_privacy_mode(self, on: bool) -> None:
        """@BotFather's /setprivacy: on, the bot gets only some group messages (getMe says so)."""
        with self._cond:
            self.privacy_mode = on

    def _reaches_bot(self, chat: ChatState, message: dict[str, Any]) -> bool:
        """Whether Telegram hands this message to the bot (privacy mode filters groups).

        With privacy mode on a bot gets, in groups: messages with a command for it (a
        `/cmd@other_bot` is for the other bot), and replies to its own messages. Not mentions,
        not other chatter.
        Telegram also gives a bare `/cmd` only to the bot that wrote last in a busy group;
        the fake always gives it, which is what a group with one bot sees.
        """
        if chat.type == "private" or not self.privacy_mode:
            return True
        text = message.get("text") or ""
        for entity in message.get("entities") or []:
            if entity["type"] != "bot_command":
                continue
            # Offsets are UTF-16 units; the commands the fake detects are ASCII after them.
            units = text.encode("utf-16-le")
            start, end = 2 * entity["offset"], 2 * (entity["offset"] + entity["length"])
            command = units[start:end].decode("utf-16-le")
            _, at, name = command.partition("@")
            if not at or name.lower() == str(self._bot_user["username"]).lower():
                return True
        replied = message.get("reply_to_message") or {}
        return (replied.get("from") or {}).get("id") == self.bot_id

    def _sender(self, chat: ChatState, user_id: int) -> dict[str, Any]:
        """The user writing in ``chat``, who must be able to write there."""
        user = self._require_user(user_id)
        if chat.type == "private" and chat.id != user_id:
            raise ValueError("in a private chat the sender is the chat's user")
        if chat.type != "private" and chat.members.get(user_id) in (None, "left", "kicked"):
            raise ValueError(f"user {user_id} is not a member of chat {chat.id}")
        return user

    def add_update(self, kind: str, payload: dict[str, Any]) -> int:
        """Queue an arbitrary update ``{"update_id": ..., kind: payload}``; returns its id."""
        with self._cond:
            return self._enqueue(kind, payload)

    # ---------------------------------------------------------------- inspection

    @property
    def get_updates_calls(self) -> int:
        with self._cond:
            return self._get_updates_calls

    @property
    def updates_offset(self) -> int:
        """The ``offset`` the bot sent with its most recent ``getUpdates``."""
        with self._cond:
            return self._updates_offset

    def updates_pending(self) -> int:
        """Updates queued and not yet confirmed by the bot."""
        with self._cond:
            return len(self._updates)

    @property
    def dropped_updates(self) -> list[dict[str, Any]]:
        """Updates not queued because the bot's allowed_updates excluded them."""
        with self._cond:
            return list(self._dropped_updates)

    @property
    def webhook_url(self) -> str:
        with self._cond:
            return self._webhook_url

    # ---------------------------------------------------------------- getUpdates

    def _get_updates(
        self, params: Params, client_gone: Callable[[], bool]
    ) -> list[dict[str, Any]] | None:
        """Long polling; runs with ``self._cond`` held and waits on it.

        ``None`` means the client hung up and gets no answer.
        """
        self._get_updates_calls += 1
        offset = params.get_int("offset") or 0
        limit = min(max(params.get_int("limit") or 100, 1), 100)
        timeout = min(max(params.get_float("timeout", 0.0), 0.0), _MAX_POLL_TIMEOUT)
        allowed = params.get_json("allowed_updates", "allowed updates")
        if self._webhook_url:
            raise ApiError(409, _WEBHOOK_ACTIVE)
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(str(a) for a in allowed) if allowed else None
        self._confirm(offset)
        self._poll_generation += 1
        self._cond.notify_all()
        deadline = time.monotonic() + timeout
        return self._long_poll(self._poll_generation, deadline, limit, client_gone)

    def _confirm(self, offset: int) -> None:
        """Forget the updates ``offset`` confirms; a negative one keeps only the last few."""
        self._updates_offset = offset
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

    def _long_poll(
        self, generation: int, deadline: float, limit: int, client_gone: Callable[[], bool]
    ) -> list[dict[str, Any]] | None:
        while True:
            if self._stopping:
                return []
            if generation != self._poll_generation:
                # A newer getUpdates (or setWebhook) took over. A client that already hung up
                # (PTB cancelling its poll on shutdown) gets no answer and no rejection record.
                if client_gone():
                    return None
                raise ApiError(409, CONFLICT_OTHER_POLL)
            if self._updates:
                return None if client_gone() else self._deliver(limit)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            if client_gone():
                return None
            self._cond.wait(min(remaining, _POLL_SLICE))

    def _deliver(self, limit: int) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = copy_json(self._updates[:limit])
        self._delivered_up_to = max(self._delivered_up_to, batch[-1]["update_id"])
        self._cond.notify_all()
        return batch

    # ---------------------------------------------------------------- webhook

    def _api_delete_webhook(self, params: Params) -> MethodResult:
        self._webhook_url = ""
        if params.get_bool("drop_pending_updates"):
            self._updates.clear()
        return True, {}

    def _api_set_webhook(self, params: Params) -> MethodResult:
        url = (params.get_str("url") or "").strip()
        if url and not url.lower().startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if params.get_bool("drop_pending_updates"):
            self._updates.clear()
        self._webhook_url = url
        self._poll_generation += 1  # a webhook ends any long poll in progress
        return True, {}

    def _api_get_webhook_info(self, params: Params) -> MethodResult:
        info: dict[str, Any] = {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook_url:
            info["max_connections"] = 40
        return info, {}
