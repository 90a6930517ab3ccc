"""The bot's own messages: ``sendMessage``, ``editMessageText`` and ``deleteMessage``.

Owns: turning a request's ``text``/``parse_mode``/``entities`` into what the user would see
(refusing Markdown, which the fake does not parse), the 4096-unit length limit, reply targets,
and the "message is not modified" rule for edits.
"""

from __future__ import annotations

import time
from typing import Any

from tests.fakebotapi.entities import (
    EntityParseError,
    UnsupportedParseMode,
    check_parse_mode,
    parse_formatted_text,
    trim,
    utf16_len,
)
from tests.fakebotapi.wire import MethodResult, Params, bad_request, validate_reply_markup
from tests.fakebotapi.world import ChatState, World, copy_json, without_reply

MAX_MESSAGE_LENGTH = 4096

_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


def _details(
    chat_id: int,
    message_id: int,
    plain: str,
    entities: list[dict[str, Any]],
    markup: dict[str, Any] | None,
) -> dict[str, Any]:
    """What the Call record of a sent or edited message keeps."""
    return {
        "chat_id": chat_id,
        "message_id": message_id,
        "plain_text": plain,
        "entities": entities,
        "reply_markup": markup,
    }


def _unchanged(
    message: dict[str, Any],
    plain: str,
    entities: list[dict[str, Any]],
    markup: dict[str, Any] | None,
) -> bool:
    """Whether an edit would leave text, entities and inline keyboard exactly as they are."""
    return (
        message.get("text") == plain
        and message.get("entities", []) == entities
        and message.get("reply_markup") == markup
    )


def _set_or_drop(message: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        message.pop(key, None)
    else:
        message[key] = value


class MessageMethods(World):
    """Sending, editing and deleting the bot's messages."""

    def _formatted(self, params: Params) -> tuple[str, list[dict[str, Any]]]:
        """The plain text and entities a request's text shows as; 400 if Telegram refuses it."""
        text = params.get_str("text")
        if text is None or not text.strip():
            raise bad_request("message text is empty")
        parse_mode = params.get_str("parse_mode")
        try:
            check_parse_mode(parse_mode)
        except UnsupportedParseMode as error:
            raise bad_request(str(error)) from None
        explicit = params.get_json("entities", "message entities")
        if explicit:
            if not isinstance(explicit, list):
                raise bad_request("can't parse message entities JSON object")
            return trim(text, [dict(e) for e in explicit if isinstance(e, dict)])
        try:
            return parse_formatted_text(
                text,
                parse_mode,
                strict_html_entities=self.strict_html_entities,
                users=self._user_json,
            )
        except EntityParseError as error:
            raise bad_request(f"can't parse entities: {error}") from None
        except ValueError:
            raise bad_request("unsupported parse_mode") from None

    def _check_length(self, plain: str) -> None:
        if not plain:
            raise bad_request("message text is empty")
        if utf16_len(plain) > MAX_MESSAGE_LENGTH:
            raise bad_request("message is too long")

    def _reply_target(self, chat: ChatState, params: Params) -> dict[str, Any] | None:
        """The message a new one replies to, from ``reply_parameters`` or the older field."""
        reply = params.get_json("reply_parameters", "reply parameters")
        message_id: int | None
        allow_missing = params.get_bool("allow_sending_without_reply")
        if isinstance(reply, dict):
            reply_params = Params(reply)
            message_id = reply_params.get_int("message_id")
            allow_missing = allow_missing or reply_params.get_bool("allow_sending_without_reply")
            if reply_params.raw("chat_id") not in (None, ""):
                chat = self._resolve_chat(reply_params)
        else:
            message_id = params.get_int("reply_to_message_id")
        if message_id is None:
            return None
        target = chat.messages.get(message_id)
        if target is None:
            if allow_missing:
                return None
            raise bad_request("message to be replied not found")
        return without_reply(target)

    def _api_send_message(self, params: Params) -> MethodResult:
        plain, entities = self._formatted(params)
        markup = validate_reply_markup(params.raw("reply_markup"))
        chat = self._resolve_chat(params)
        self._check_writable(chat)
        self._check_length(plain)
        reply_to = self._reply_target(chat, params)
        self._check_not_blocked(chat)
        message = self._new_message(chat, self._bot_user)
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message["text"] = plain
        if entities:
            message["entities"] = entities
        # A reply keyboard belongs to the user's client; only an inline one sticks to the message.
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        message_id = message["message_id"]
        chat.messages[message_id] = message
        return copy_json(message), _details(chat.id, message_id, plain, entities, markup)

    def _api_edit_message_text(self, params: Params) -> MethodResult:
        plain, entities = self._formatted(params)
        markup = validate_reply_markup(params.raw("reply_markup"))
        if markup is not None and "inline_keyboard" not in markup:
            raise bad_request("inline keyboard expected")
        if params.raw("inline_message_id") not in (None, ""):
            # Inline messages live in chats the fake does not model: only the text is checked.
            self._check_length(plain)
            return True, {"plain_text": plain, "entities": entities, "reply_markup": markup}
        chat = self._resolve_chat(params)
        message_id = params.get_int("message_id", missing="message identifier is not specified")
        assert message_id is not None
        self._check_writable(chat)
        self._check_length(plain)
        message = self._editable_message(chat, message_id)
        if _unchanged(message, plain, entities, markup):
            raise bad_request(_NOT_MODIFIED)
        self._check_not_blocked(chat)
        message["text"] = plain
        _set_or_drop(message, "entities", entities or None)
        _set_or_drop(message, "reply_markup", markup)
        message["edit_date"] = int(time.time())
        return copy_json(message), _details(chat.id, message_id, plain, entities, markup)

    def _editable_message(self, chat: ChatState, message_id: int) -> dict[str, Any]:
        message = chat.messages.get(message_id)
        if message is None:
            raise bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise bad_request("message can't be edited")
        return message

    def _api_delete_message(self, params: Params) -> MethodResult:
        chat = self._resolve_chat(params)
        message_id = params.get_int("message_id", missing="message identifier is not specified")
        if message_id is None or message_id not in chat.messages:
            raise bad_request("message to delete not found")
        del chat.messages[message_id]
        return True, {"chat_id": chat.id, "message_id": message_id}
