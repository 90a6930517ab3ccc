"""The bot's command menus: ``setMyCommands``, ``getMyCommands``, ``deleteMyCommands``.

Owns: the command lists kept per (scope, language), Telegram's checks on command names and
descriptions, and reading the lists back in tests (``commands``, ``commands_for``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from tests.fakebotapi.wire import MethodResult, Params, bad_request
from tests.fakebotapi.world import World

MAX_BOT_COMMANDS = 100

_SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_CHAT_SCOPES = frozenset({"chat", "chat_administrators", "chat_member"})
_COMMAND_NAME = re.compile(r"[a-z0-9_]+")


def scope_key(scope: Mapping[str, Any]) -> str:
    """A scope as compact JSON with sorted keys, e.g. ``'{"type":"default"}'``."""
    return json.dumps(dict(scope), sort_keys=True, separators=(",", ":"))


def _clean_commands(commands: Any) -> list[dict[str, Any]]:
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > MAX_BOT_COMMANDS:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    return [_clean_command(item) for item in commands]


def _clean_command(item: Any) -> dict[str, Any]:
    """One BotCommand as Telegram stores it: stripped, without a leading ``/``."""
    if not isinstance(item, dict):
        raise bad_request("can't parse BotCommand: Object expected")
    command = item.get("command")
    description = item.get("description")
    if not isinstance(command, str):
        raise bad_request("can't parse BotCommand: Can't find field \"command\"")
    if not isinstance(description, str):
        raise bad_request("can't parse BotCommand: Can't find field \"description\"")
    command = command.strip().removeprefix("/")
    description = description.strip()
    if not command:
        raise bad_request("command must be non-empty")
    if len(command) > 32:
        raise bad_request("command length must not exceed 32")
    if not _COMMAND_NAME.fullmatch(command):
        raise bad_request("BOT_COMMAND_INVALID")
    if not description:
        raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    if len(description) > 256:
        raise bad_request("command description length must not exceed 256")
    return {"command": command, "description": description}


class CommandMethods(World):
    """The command lists, set by the bot and read back by tests."""

    @property
    def commands(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """Current command lists keyed by ``(scope JSON, language_code)``.

        The scope JSON is compact with sorted keys, e.g. ``'{"type":"default"}'``.
        """
        with self._cond:
            return {key: [dict(c) for c in value] for key, value in self._commands.items()}

    def commands_for(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]] | None:
        """The commands set for exactly this scope/language, or ``None`` if never set."""
        key = (scope_key(dict(scope) if scope else {"type": "default"}), language_code)
        with self._cond:
            found = self._commands.get(key)
            return None if found is None else [dict(c) for c in found]

    def _command_key(self, params: Params) -> tuple[str, str]:
        """The (scope, language) a request's command list is kept under."""
        scope = params.get_json("scope", "bot command scope")
        if scope is None:
            scope = {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
            raise bad_request("unsupported bot command scope type")
        scope = dict(scope)
        # Chats named by @username are kept under their numeric id, as Telegram resolves them.
        if scope["type"] in _CHAT_SCOPES:
            scope["chat_id"] = self._resolve_chat(Params(scope)).id
        if scope["type"] == "chat_member":
            scope["user_id"] = Params(scope).get_int("user_id", missing="user not found")
        return scope_key(scope), params.get_str("language_code") or ""

    def _api_set_my_commands(self, params: Params) -> MethodResult:
        cleaned = _clean_commands(params.get_json("commands", "bot commands"))
        key = self._command_key(params)
        if cleaned:
            self._commands[key] = cleaned
        else:
            self._commands.pop(key, None)  # an empty list is how a bot removes its menu
        return True, {}

    def _api_get_my_commands(self, params: Params) -> MethodResult:
        key = self._command_key(params)
        return [dict(c) for c in self._commands.get(key, [])], {}

    def _api_delete_my_commands(self, params: Params) -> MethodResult:
        self._commands.pop(self._command_key(params), None)
        return True, {}
