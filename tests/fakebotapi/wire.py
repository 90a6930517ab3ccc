"""The Bot API wire format, as the fake reads requests and writes answers.

Owns: request bodies (JSON, form, multipart) and typed access to their parameters
(:class:`Params`), validation of ``reply_markup`` and its keyboards, Telegram's error answers
(:class:`ApiError` and the 400/403 constructors), and the records of accepted calls
(:class:`Call`) and refused ones (:class:`Rejection`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP as HTTP_POLICY
from typing import Any
from urllib.parse import parse_qsl

from tests.fakebotapi.entities import URL_SCHEME, check_link

MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100

TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")
CONFLICT_OTHER_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)

_BAD_MARKUP = "can't parse reply keyboard markup JSON object"
_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_BUTTON_URL_SCHEMES = frozenset({"http", "https", "tg"})

# The status and JSON body of one HTTP answer; None hangs up without answering.
HttpAnswer = tuple[int, dict[str, Any]] | None


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status ``code`` and Telegram's ``description``."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def forbidden(reason: str) -> ApiError:
    return ApiError(403, f"Forbidden: {reason}")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class Call:
    """One API call the server accepted (everything except ``getUpdates``).

    ``text`` and ``parse_mode`` are the raw request parameters; ``plain_text``/``entities`` are
    the result of Telegram-style entity parsing (what the user would see).  ``message_id`` is the
    id of the message sent, edited or deleted.  ``time`` is ``time.monotonic()``.
    """

    method: str
    chat_id: int | str | None
    text: str | None
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    message_id: int | None
    time: float
    params: dict[str, Any] = field(default_factory=dict)
    plain_text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    result: Any = None


@dataclass(frozen=True)
class Rejection:
    """One API call the server refused, with Telegram's error code and description."""

    method: str
    chat_id: int | str | None
    error_code: int
    description: str
    time: float
    params: dict[str, Any] = field(default_factory=dict)
    injected: bool = False

    @property
    def reason(self) -> str:
        return self.description


def normalize_chat_id(raw: Any) -> int | str | None:
    """The ``chat_id`` parameter as recorded: a number when it reads as one."""
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    return None if raw is None else str(raw)


# --------------------------------------------------------------------------------------------
# Request parameters
# --------------------------------------------------------------------------------------------


class Params:
    """Typed access to request parameters that arrive either as strings (form) or JSON."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = dict(data)

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def get_str(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return json.dumps(value)

    def get_int(self, name: str, *, missing: str | None = None) -> int | None:
        value = self.data.get(name)
        if value is None or value == "":
            if missing is not None:
                raise bad_request(missing)
            return None
        if isinstance(value, bool):
            raise bad_request(f'wrong parameter "{name}" specified')
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(f'wrong parameter "{name}" specified') from None

    def get_float(self, name: str, default: float) -> float:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f'wrong parameter "{name}" specified') from None

    def get_bool(self, name: str) -> bool:
        value = self.data.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def get_json(self, name: str, what: str) -> Any:
        value = self.data.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {what} JSON object") from None
        return value


# The value an API method answers with, and what the Call record keeps beside the raw params.
MethodResult = tuple[Any, dict[str, Any]]
ApiMethod = Callable[[Params], MethodResult]


def parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """The parameters in a request body, whichever of the three encodings it uses."""
    if not body:
        return {}
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        return _parse_json_body(body)
    if media_type == "multipart/form-data":
        return _parse_multipart_body(content_type, body)
    return _parse_form_body(body)


def _parse_json_body(body: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise bad_request("can't parse JSON encoded request") from None
    if not isinstance(decoded, dict):
        raise bad_request("can't parse JSON encoded request")
    return decoded


def _parse_multipart_body(content_type: str, body: bytes) -> dict[str, Any]:
    # The email parser reads MIME multipart once it is given the Content-Type as a header.
    header = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP_POLICY).parsebytes(header + body)
    if not message.is_multipart():
        raise bad_request("can't parse multipart request")
    params: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        content = part.get_payload(decode=True)
        payload = content if isinstance(content, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            params[name] = UploadedFile(filename, payload)
        else:
            params[name] = payload.decode("utf-8", "replace")
    return params


def _parse_form_body(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("request body is not valid UTF-8") from None
    return dict(parse_qsl(text, keep_blank_values=True))


# --------------------------------------------------------------------------------------------
# Reply markup
# --------------------------------------------------------------------------------------------


def validate_reply_markup(raw: Any) -> dict[str, Any] | None:
    """The ``reply_markup`` parameter, checked as Telegram checks it; ``None`` when absent."""
    if raw is None or raw == "":
        return None
    markup = _decode_markup(raw)
    if "inline_keyboard" in markup:
        _validate_inline_keyboard(markup["inline_keyboard"])
    elif "keyboard" in markup:
        _validate_reply_keyboard(markup["keyboard"])
    elif markup.get("remove_keyboard") is not True and markup.get("force_reply") is not True:
        raise bad_request(_BAD_MARKUP)
    return markup


def _decode_markup(raw: Any) -> dict[str, Any]:
    markup = raw
    if isinstance(raw, str):
        try:
            markup = json.loads(raw)
        except ValueError:
            raise bad_request(_BAD_MARKUP) from None
    if not isinstance(markup, dict):
        raise bad_request(_BAD_MARKUP)
    return markup


def _validate_reply_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "keyboard" must be an Array of Arrays')
    for button in (button for row in rows for button in row):
        if isinstance(button, dict):
            if not isinstance(button.get("text"), str):
                raise bad_request("can't parse keyboard button: Can't find field \"text\"")
        elif not isinstance(button, str):
            raise bad_request("can't parse keyboard button: Object expected")


def _validate_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list):
        raise bad_request('field "inline_keyboard" must be of type Array')
    if not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" must be an Array of Arrays')
    buttons = [button for row in rows for button in row]
    if len(buttons) > MAX_INLINE_BUTTONS:
        raise bad_request("reply markup is too long")
    # Every button's shape is checked before any button's values: a keyboard with both kinds
    # of fault is refused for the shape, whichever button comes first.
    for button in buttons:
        _check_inline_button_shape(button)
    for button in buttons:
        if "callback_data" in button:
            _check_callback_data(button["callback_data"])
        if "url" in button:
            _check_button_url(button["url"])


def _check_inline_button_shape(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad_request("can't parse inline keyboard button: Object expected")
    if not isinstance(button.get("text"), str):
        raise bad_request("can't parse inline keyboard button: Can't find field \"text\"")
    if not any(key in button for key in _INLINE_ACTIONS):
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )


def _check_callback_data(data: Any) -> None:
    if not isinstance(data, str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "callback_data" must be of type String'
        )
    if not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
        raise bad_request("BUTTON_DATA_INVALID")


def _check_button_url(url: Any) -> None:
    if not isinstance(url, str) or check_link(url) is None:
        raise bad_request("BUTTON_URL_INVALID")
    scheme = URL_SCHEME.match(url)
    if scheme is not None and scheme.group(1).lower() not in _BUTTON_URL_SCHEMES:
        raise bad_request("BUTTON_URL_INVALID")
