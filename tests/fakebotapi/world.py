"""The state of the fake Telegram, and the helpers every family of API methods shares.

Owns: the bot's identity, the users, the chats with their messages, the update queue, the
callback queries, the command lists, the injected failures and the records of calls, all
guarded by one condition variable; looking chats, users and messages up, numbering messages,
queueing updates, and the checks on whether the bot may write to a chat.

:class:`World` is the base the method families (``chats``, ``messages``, ``callbacks``,
``commands``, ``updates``, ``records``) build on; ``FakeBotAPI`` combines them.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakebotapi.entities import placeholder_user
from tests.fakebotapi.wire import ApiError, Call, Params, Rejection, bad_request, forbidden

TOKEN = "123456789:AAFakeTokenForSectorbotTests_0123456789"
BOT_USERNAME = "sectorbot_test_bot"
BOT_FIRST_NAME = "Sectorbot Test"

# Update kinds Telegram only delivers when they are asked for explicitly in allowed_updates.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class ChatState:
    """One chat as the fake knows it: who is in it and its live messages."""

    id: int
    type: str
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    members: dict[int, str] = field(default_factory=dict)
    bot_status: str = "member"
    blocked: bool = False
    next_message_id: int = 1
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id}
        if self.type == "private":
            data["first_name"] = self.first_name or ""
            if self.last_name:
                data["last_name"] = self.last_name
        else:
            data["title"] = self.title or ""
        if self.username:
            data["username"] = self.username
        data["type"] = self.type
        return data


@dataclass
class QueryState:
    """A callback query sent to the bot; Telegram accepts one answer per query."""

    id: str
    answered: bool = False


@dataclass
class InjectedFailure:
    """An error the next ``remaining`` calls of a method get instead of their answer."""

    remaining: int
    error: ApiError


def copy_json(value: Any) -> Any:
    """A deep copy through JSON, so what callers get never shares state with the fake."""
    return json.loads(json.dumps(value))


def without_reply(message: dict[str, Any]) -> dict[str, Any]:
    """A message as Telegram nests it in ``reply_to_message``: one level deep only."""
    copied: dict[str, Any] = copy_json(message)
    copied.pop("reply_to_message", None)
    return copied


class World:
    """The fake's state.  Every attribute is read and written with ``_cond`` held."""

    def __init__(
        self,
        token: str,
        bot_user: dict[str, Any],
        first_update_id: int,
        strict_html_entities: bool,
    ) -> None:
        self.token = token
        self.bot_id: int = bot_user["id"]
        self.strict_html_entities = strict_html_entities
        self._bot_user = bot_user
        # A re-entrant lock underneath: helpers that lock may be called with it held.
        self._cond = threading.Condition()
        self._stopping = False
        self._users: dict[int, dict[str, Any]] = {}
        self._chats: dict[int, ChatState] = {}
        self._queries: dict[str, QueryState] = {}
        self._query_ids = itertools.count(1)
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._failures: dict[str, list[InjectedFailure]] = {}
        self._sent: list[Call] = []
        self._photos: dict[str, tuple[int, int, int]] = {}  # file id: width, height, bytes
        self._rejected: list[Rejection] = []
        self._internal_errors: list[str] = []
        self._init_updates(first_update_id)

    def _init_updates(self, first_update_id: int) -> None:
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = first_update_id
        self._delivered_up_to = first_update_id - 1
        self._dropped_updates: list[dict[str, Any]] = []
        # As for a new bot on Telegram: privacy mode on (see `set_privacy_mode`), no inline mode.
        self.privacy_mode = True
        self.inline_mode = False
        self._allowed_updates: frozenset[str] | None = None
        self._get_updates_calls = 0
        self._updates_offset = 0
        self._poll_generation = 0
        self._webhook_url = ""

    @property
    def bot_user(self) -> dict[str, Any]:
        return dict(self._bot_user)

    # ---------------------------------------------------------------- look-ups for test helpers

    def _require_chat(self, chat_id: int) -> ChatState:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise ValueError(f"unknown chat {chat_id}; register it with add_private_chat/add_group")
        return chat

    def _require_user(self, user_id: int) -> dict[str, Any]:
        user = self._users.get(user_id)
        if user is None:
            raise ValueError(f"unknown user {user_id}; register it first")
        return user

    def _require_message(self, chat: ChatState, message_id: int) -> dict[str, Any]:
        message = chat.messages.get(message_id)
        if message is None:
            raise ValueError(f"no message {message_id} in chat {chat.id}")
        return message

    def _user_json(self, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_id:
            return dict(self._bot_user)
        return dict(self._users.get(user_id) or placeholder_user(user_id))

    # ---------------------------------------------------------------- messages and updates

    def _next_message_id(self, chat: ChatState) -> int:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        return message_id

    def _new_message(self, chat: ChatState, sender: dict[str, Any]) -> dict[str, Any]:
        """The head of a new message in ``chat``; it takes the chat's next message id."""
        return {
            "message_id": self._next_message_id(chat),
            "from": dict(sender),
            "chat": chat.to_json(),
            "date": int(time.time()),
        }

    def _enqueue(self, kind: str, payload: dict[str, Any], *, hidden: bool = False) -> int:
        """Queue an update; `hidden` ones (privacy mode) are dropped as Telegram drops them."""
        update_id = self._next_update_id
        self._next_update_id += 1
        update = {"update_id": update_id, kind: payload}
        allowed = (
            kind not in _OPT_IN_UPDATES
            if self._allowed_updates is None
            else kind in self._allowed_updates
        )
        if allowed and not hidden:
            self._updates.append(update)
        else:
            self._dropped_updates.append(update)
        self._cond.notify_all()
        return update_id

    # ---------------------------------------------------------------- checks on API calls

    def _resolve_chat(self, params: Params, name: str = "chat_id") -> ChatState:
        """The chat a request names, by id or by ``@username``; 400 if there is none."""
        raw = params.raw(name)
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        chat: ChatState | None = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            chat = self._chats.get(raw)
        elif isinstance(raw, str):
            chat = self._chat_named(raw.strip())
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _chat_named(self, value: str) -> ChatState | None:
        if not value.startswith("@"):
            try:
                return self._chats.get(int(value))
            except ValueError:
                return None
        # Only groups and channels have public usernames a bot can address them by.
        wanted = value[1:].lower()
        return next(
            (
                chat
                for chat in self._chats.values()
                if chat.type != "private" and (chat.username or "").lower() == wanted
            ),
            None,
        )

    def _check_writable(self, chat: ChatState) -> None:
        if chat.type == "private":
            return
        kind = {"group": "group chat", "supergroup": "supergroup chat"}.get(chat.type, "chat")
        if chat.blocked or chat.bot_status == "kicked":
            raise forbidden(f"bot was kicked from the {kind}")
        if chat.bot_status == "left":
            raise forbidden(f"bot is not a member of the {kind}")

    def _check_not_blocked(self, chat: ChatState) -> None:
        if chat.type == "private" and chat.blocked:
            raise forbidden("bot was blocked by the user")
