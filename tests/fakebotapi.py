"""A fake Telegram Bot API server for sectorbot's tests.

The real python-telegram-bot ``Application`` talks plain HTTP to this server, so the whole bot
(handlers, job queue, error handling, request layer) runs exactly as in production, only the
network peer is fake.  Nothing here ever touches a non-loopback address.

Wire format, as used by python-telegram-bot 22.x:

* PTB builds the request URL as ``f"{base_url}{token}/{method}"`` when ``base_url`` contains no
  ``{token}`` placeholder, so pass ``FakeBotAPI.base_url`` (``http://127.0.0.1:PORT/bot``)
  unchanged to ``ApplicationBuilder().base_url(...)`` / ``Bot(base_url=...)``.
* Every call is an HTTP POST with an ``application/x-www-form-urlencoded`` body (or
  ``multipart/form-data`` when files are uploaded).  String parameters are sent as they are,
  all other values (ints, bools, lists, dicts such as ``reply_markup``) are JSON encoded.
  The server also accepts ``application/json`` bodies and query-string parameters, like the
  real Bot API does.

Typical use::

    with FakeBotAPI() as api:
        api.add_private_chat(42, "Alice", "alice")
        app = (
            ApplicationBuilder()
            .token(api.token)
            .base_url(api.base_url)
            .base_file_url(api.base_file_url)
            .build()
        )
        ...
        api.send_text(42, 42, "/start")
        call = await api.wait_for_async(lambda c: c.method == "sendMessage" and c.chat_id == 42)

In async tests always use the ``*_async`` waiting helpers: the blocking ones would stall the
event loop the bot runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import select
import socket
import threading
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP as HTTP_POLICY
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "BOT_USERNAME",
    "MAX_CALLBACK_DATA_BYTES",
    "MAX_MESSAGE_LENGTH",
    "TOKEN",
    "ApiError",
    "Call",
    "EntityParseError",
    "FakeBotAPI",
    "Rejection",
    "UploadedFile",
    "detect_incoming_entities",
    "loopback_request",
    "parse_formatted_text",
    "utf16_len",
]

TOKEN = "123456789:AAFakeTokenForSectorbotTests_0123456789"
BOT_USERNAME = "sectorbot_test_bot"
BOT_FIRST_NAME = "Sectorbot Test"
MAX_MESSAGE_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100
MAX_BOT_COMMANDS = 100

_TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_POLL_SLICE = 0.05  # seconds between "is the long-polling client still there?" checks
_MAX_POLL_TIMEOUT = 50.0

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# Update kinds Telegram only delivers when they are asked for explicitly in allowed_updates.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})
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
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
_BAD_QUERY = "query is too old and response timeout expired or query ID is invalid"


# --------------------------------------------------------------------------------------------
# Errors and records
# --------------------------------------------------------------------------------------------


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


class EntityParseError(ValueError):
    """Raised by the text parsers; the message is what follows ``can't parse entities:``."""


def _bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def _forbidden(reason: str) -> ApiError:
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


@dataclass
class _Failure:
    remaining: int
    error: ApiError


@dataclass
class _Chat:
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
class _Query:
    id: str
    answered: bool = False


# --------------------------------------------------------------------------------------------
# Text helpers: UTF-16 lengths, HTML / Markdown / MarkdownV2 entity parsing
# --------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit Telegram counts offsets/lengths in."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _is_ascii_word_char(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


_HTML_SPACES = frozenset(" \t\r\n\x0b\x0c")
_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_HTML_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
}
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_NAMED_REFERENCE = re.compile(r"&[A-Za-z][A-Za-z0-9]*;")
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_LINK_SCHEMES = frozenset({"http", "https", "tg", "ton", "mailto"})
_USER_LINK = re.compile(r"tg://user\?id=(\d{1,15})", re.IGNORECASE)
_EMOJI_LINK = re.compile(r"tg://emoji\?id=(\d{1,20})")

UserLookup = Callable[[int], dict[str, Any]]


def _placeholder_user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}


def _decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference starting at ``text[pos] == "&"`` as Telegram does.

    Returns the character and the index after the reference, or ``None`` when Telegram would
    leave the ``&`` as a literal character.  The trailing ``;`` is optional, as in Telegram.
    """
    n = len(text)
    end = pos + 1
    if end < n and text[end] == "#":
        end += 1
        base = 10
        if end < n and text[end] in "xX":
            base = 16
            end += 1
        start = end
        digits = "0123456789abcdefABCDEF" if base == 16 else "0123456789"
        while end < n and text[end] in digits and end - pos < 12:
            end += 1
        if end == start or end - pos >= 10:
            return None
        value = int(text[start:end], base)
        if value == 0 or value >= 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            return None
        char = chr(value)
    else:
        while end < n and text[end].isascii() and text[end].isalpha():
            end += 1
        named = _HTML_NAMED.get(text[pos + 1 : end])
        if named is None:
            return None
        char = named
    if end < n and text[end] == ";":
        end += 1
    return char, end


def _check_link(url: str) -> str | None:
    """Normalise a link like Telegram's LinkManager; ``None`` if Telegram would drop it."""
    url = url.strip()
    if not url or any(ch in url for ch in " \t\r\n"):
        return None
    match = _URL_SCHEME.match(url)
    if match is None:
        host = url.split("/", 1)[0]
        if "." not in host or host.startswith(".") or host.endswith("."):
            return None
        return "http://" + url
    scheme = match.group(1).lower()
    if scheme not in _LINK_SCHEMES:
        return None
    if scheme in ("http", "https"):
        try:
            host = urlsplit(url).hostname
        except ValueError:
            return None
        if not host:
            return None
    elif len(url) == len(match.group(0)):
        return None
    return url


def _link_entity(url: str, offset: int, length: int, users: UserLookup) -> dict[str, Any] | None:
    user_match = _USER_LINK.fullmatch(url.strip())
    if user_match is not None:
        user = users(int(user_match.group(1)))
        return {"type": "text_mention", "offset": offset, "length": length, "user": user}
    checked = _check_link(url)
    if checked is None:
        return None
    return {"type": "text_link", "offset": offset, "length": length, "url": checked}


@dataclass
class _Open:
    kind: str
    argument: str
    u16: int
    start: int  # index into the source text, for error messages
    out_len: int  # index into the output list, to recover the entity's text


class _Output:
    """Accumulates parsed plain text while tracking its UTF-16 length."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.u16 = 0

    def add(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.u16 += utf16_len(chunk)

    def since(self, index: int) -> str:
        return "".join(self.parts[index:])

    def text(self) -> str:
        return "".join(self.parts)


def _parse_html(
    text: str, users: UserLookup, *, strict_entities: bool = True
) -> tuple[str, list[dict[str, Any]]]:
    out = _Output()
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    n = len(text)
    i = 0

    def error(message: str) -> EntityParseError:
        return EntityParseError(message)

    while i < n:
        ch = text[i]
        if ch == "&":
            decoded = _decode_html_entity(text, i)
            if decoded is not None:
                out.add(decoded[0])
                i = decoded[1]
                continue
            named = _NAMED_REFERENCE.match(text, i)
            if strict_entities and named is not None:
                # Real Telegram leaves unknown named references as literal text; sectorbot
                # treats them as a bug, so the fake refuses them (strict_html_entities=True).
                raise error(
                    f'Unsupported HTML entity "{named.group(0)}" at byte offset '
                    f"{_byte_offset(text, i)}"
                )
        if ch != "<":
            out.add(ch)
            i += 1
            continue

        begin = i
        i += 1
        if i >= n or text[i] != "/":
            # A start tag.
            while i < n and text[i] not in _HTML_SPACES and text[i] != ">":
                i += 1
            if i >= n:
                raise error(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
            tag = text[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise error(
                    f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
                )
            argument = ""
            expandable = False
            while True:
                while i < n and text[i] in _HTML_SPACES:
                    i += 1
                if i >= n:
                    raise error(
                        f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
                    )
                if text[i] == ">":
                    break
                name_begin = i
                while i < n and text[i] not in _HTML_SPACES and text[i] not in "=>":
                    i += 1
                attribute = text[name_begin:i].lower()
                if not attribute:
                    raise error(
                        f'Empty attribute name in the tag "{tag}" at byte offset '
                        f"{_byte_offset(text, begin)}"
                    )
                while i < n and text[i] in _HTML_SPACES:
                    i += 1
                if i >= n or text[i] != "=":
                    if tag == "blockquote" and attribute == "expandable":
                        expandable = True
                        continue
                    raise error(
                        f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                        f"at byte offset {_byte_offset(text, begin)}"
                    )
                i += 1
                while i < n and text[i] in _HTML_SPACES:
                    i += 1
                if i >= n:
                    raise error(
                        f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
                    )
                if text[i] in "'\"":
                    quote = text[i]
                    i += 1
                    value_parts: list[str] = []
                    while i < n and text[i] != quote:
                        if text[i] == "&":
                            decoded = _decode_html_entity(text, i)
                            if decoded is not None:
                                value_parts.append(decoded[0])
                                i = decoded[1]
                                continue
                        value_parts.append(text[i])
                        i += 1
                    if i >= n:
                        raise error(
                            f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
                        )
                    i += 1
                    value = "".join(value_parts)
                else:
                    token_begin = i
                    while i < n and ((text[i].isascii() and text[i].isalnum()) or text[i] in ".-"):
                        i += 1
                    value = text[token_begin:i].lower()
                    if i >= n or (text[i] not in _HTML_SPACES and text[i] != ">"):
                        raise error(
                            "Unexpected end of name token at byte offset "
                            f"{_byte_offset(text, token_begin)}"
                        )
                if tag == "a" and attribute == "href":
                    argument = value
                elif tag == "code" and attribute == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attribute == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attribute == "emoji-id":
                    argument = value
                # Every other attribute is ignored, as Telegram does.
            i += 1  # the ">"
            if tag == "span" and argument != "spoiler":
                raise error(
                    'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{_byte_offset(text, begin)}"
                )
            if tag == "blockquote" and expandable:
                argument = "expandable"
            stack.append(_Open(tag, argument, out.u16, begin, len(out.parts)))
            continue

        # An end tag.
        if not stack:
            raise error(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
        i += 1
        name_begin = i
        while i < n and text[i] not in _HTML_SPACES and text[i] != ">":
            i += 1
        end_name = text[name_begin:i].lower()
        while i < n and text[i] in _HTML_SPACES:
            i += 1
        if i >= n or text[i] != ">":
            raise error(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
        i += 1
        opened = stack.pop()
        if end_name and end_name != opened.kind:
            raise error(
                f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                f'expected "</{opened.kind}>", found "</{end_name}>"'
            )
        length = out.u16 - opened.u16
        if opened.kind == "tg-emoji" and (
            not opened.argument.isdigit() or int(opened.argument) == 0
        ):
            raise error("Invalid custom emoji identifier specified")
        if length <= 0:
            continue
        offset = opened.u16
        if opened.kind in _HTML_SIMPLE:
            entities.append({"type": _HTML_SIMPLE[opened.kind], "offset": offset, "length": length})
        elif opened.kind == "a":
            url = opened.argument or out.since(opened.out_len)
            link = _link_entity(url, offset, length, users)
            if link is not None:
                entities.append(link)
        elif opened.kind == "code":
            code: dict[str, Any] = {"type": "code", "offset": offset, "length": length}
            if opened.argument:
                code["_language"] = opened.argument
            entities.append(code)
        elif opened.kind == "pre":
            last = entities[-1] if entities else None
            if (
                last is not None
                and last["type"] == "code"
                and last["offset"] == offset
                and last["length"] == length
                and "_language" in last
            ):
                entities[-1] = {
                    "type": "pre",
                    "offset": offset,
                    "length": length,
                    "language": last["_language"],
                }
            else:
                entities.append({"type": "pre", "offset": offset, "length": length})
        elif opened.kind == "tg-emoji":
            entities.append(
                {
                    "type": "custom_emoji",
                    "offset": offset,
                    "length": length,
                    "custom_emoji_id": opened.argument,
                }
            )
        elif opened.kind == "blockquote":
            kind = "expandable_blockquote" if opened.argument else "blockquote"
            entities.append({"type": kind, "offset": offset, "length": length})
    if stack:
        raise error(f'Can\'t find end tag corresponding to start tag "{stack[-1].kind}"')
    for entity in entities:
        entity.pop("_language", None)
    return out.text(), entities


def _parse_markdown(text: str, users: UserLookup) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's legacy ``Markdown`` parse mode."""
    out = _Output()
    entities: list[dict[str, Any]] = []
    n = len(text)
    i = 0
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if ch not in "_*`[":
            out.add(ch)
            i += 1
            continue
        begin = i
        end_char = "]" if ch == "[" else ch
        i += 1
        is_pre = False
        language = ""
        if ch == "`" and text.startswith("``", i):
            i += 2
            is_pre = True
            lang_end = i
            while lang_end < n and text[lang_end] not in _HTML_SPACES and text[lang_end] != "`":
                lang_end += 1
            if lang_end != i and lang_end < n and text[lang_end] != "`":
                language = text[i:lang_end]
                i = lang_end
            i = _skip_one_newline(text, i)
        start_u16 = out.u16
        start_parts = len(out.parts)
        while i < n and (text[i] != end_char or (is_pre and not text.startswith("``", i + 1))):
            out.add(text[i])
            i += 1
        if i >= n:
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}"
            )
        length = out.u16 - start_u16
        if length > 0:
            if ch == "_":
                entities.append({"type": "italic", "offset": start_u16, "length": length})
            elif ch == "*":
                entities.append({"type": "bold", "offset": start_u16, "length": length})
            elif ch == "[":
                if i + 1 < n and text[i + 1] == "(":
                    i += 2
                    url_start = i
                    while i < n and text[i] != ")":
                        i += 1
                    url = text[url_start:i]
                else:
                    url = out.since(start_parts)
                link = _link_entity(url, start_u16, length, users)
                if link is not None:
                    entities.append(link)
            elif is_pre:
                pre: dict[str, Any] = {"type": "pre", "offset": start_u16, "length": length}
                if language:
                    pre["language"] = language
                entities.append(pre)
            else:
                entities.append({"type": "code", "offset": start_u16, "length": length})
        i += 3 if is_pre else 1
    return out.text(), entities


def _skip_one_newline(text: str, i: int) -> int:
    if i < len(text) and text[i] in "\r\n":
        if i + 1 < len(text) and text[i + 1] in "\r\n" and text[i] != text[i + 1]:
            return i + 2
        return i + 1
    return i


_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _mdv2_is_end(kind: str, text: str, i: int) -> bool:
    ch = text[i]
    nxt = text[i + 1] if i + 1 < len(text) else ""
    if kind == "bold":
        return ch == "*"
    if kind == "italic":
        return ch == "_" and nxt != "_"
    if kind == "underline":
        return ch == "_" and nxt == "_"
    if kind == "strikethrough":
        return ch == "~"
    if kind == "spoiler":
        return ch == "|" and nxt == "|"
    if kind == "code":
        return ch == "`"
    if kind == "pre":
        return text.startswith("```", i)
    return ch == "]"  # text_link, custom_emoji


def _parse_markdown_v2(text: str, users: UserLookup) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's ``MarkdownV2`` parse mode, including ``>`` / ``**>`` block quotes."""
    out = _Output()
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    quote: _Open | None = None
    n = len(text)
    i = 0

    def close_quote() -> None:
        nonlocal quote
        if quote is not None and out.u16 > quote.u16:
            entities.append(
                {"type": quote.kind, "offset": quote.u16, "length": out.u16 - quote.u16}
            )
        quote = None

    def read_url(pos: int) -> tuple[str, int]:
        url_parts: list[str] = []
        while pos < n and text[pos] != ")":
            if text[pos] == "\\" and pos + 1 < n and 0 < ord(text[pos + 1]) <= 126:
                url_parts.append(text[pos + 1])
                pos += 2
                continue
            url_parts.append(text[pos])
            pos += 1
        return "".join(url_parts), pos

    while i < n:
        ch = text[i]
        in_code = bool(stack) and stack[-1].kind in ("code", "pre")
        if ch == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.add(text[i + 1])
            i += 2
            continue
        if not in_code and (i == 0 or text[i - 1] == "\n"):
            if ch == ">":
                if quote is None:
                    quote = _Open("blockquote", "", out.u16, i, len(out.parts))
                i += 1
                continue
            if text.startswith("**>", i):
                if quote is None:
                    quote = _Open("expandable_blockquote", "", out.u16, i, len(out.parts))
                else:
                    quote.kind = "expandable_blockquote"
                i += 3
                continue
        if quote is not None and not in_code:
            if ch == "\n" and not (text.startswith(">", i + 1) or text.startswith("**>", i + 1)):
                close_quote()
            elif (
                quote.kind == "expandable_blockquote"
                and text.startswith("||", i)
                and (i + 2 == n or text[i + 2] == "\n")
                and not (stack and stack[-1].kind == "spoiler")
            ):
                i += 2
                continue
        reserved = "`" if in_code else _MDV2_RESERVED
        if ch not in reserved:
            out.add(ch)
            i += 1
            continue
        if not stack or not _mdv2_is_end(stack[-1].kind, text, i):
            begin = i
            argument = ""
            if ch == "_":
                kind = "underline" if text.startswith("__", i) else "italic"
                i += 2 if kind == "underline" else 1
            elif ch == "*":
                kind = "bold"
                i += 1
            elif ch == "~":
                kind = "strikethrough"
                i += 1
            elif ch == "|" and text.startswith("||", i):
                kind = "spoiler"
                i += 2
            elif ch == "[":
                kind = "text_link"
                i += 1
            elif ch == "`":
                if text.startswith("```", i):
                    kind = "pre"
                    i += 3
                    lang_end = i
                    while (
                        lang_end < n
                        and text[lang_end] not in _HTML_SPACES
                        and text[lang_end] != "`"
                    ):
                        lang_end += 1
                    if lang_end != i and lang_end < n and text[lang_end] != "`":
                        argument = text[i:lang_end]
                        i = lang_end
                    i = _skip_one_newline(text, i)
                else:
                    kind = "code"
                    i += 1
            elif ch == "!" and text.startswith("![", i):
                kind = "custom_emoji"
                i += 2
            else:
                raise EntityParseError(
                    f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
                )
            stack.append(_Open(kind, argument, out.u16, begin, len(out.parts)))
            continue

        opened = stack.pop()
        length = out.u16 - opened.u16
        entity: dict[str, Any] | None = None
        if opened.kind in ("bold", "italic", "strikethrough", "code"):
            i += 1
            entity = {"type": opened.kind, "offset": opened.u16, "length": length}
        elif opened.kind in ("underline", "spoiler"):
            i += 2
            entity = {"type": opened.kind, "offset": opened.u16, "length": length}
        elif opened.kind == "pre":
            i += 3
            entity = {"type": "pre", "offset": opened.u16, "length": length}
            if opened.argument:
                entity["language"] = opened.argument
        elif opened.kind == "text_link":
            if i + 1 < n and text[i + 1] == "(":
                url, end = read_url(i + 2)
                if end >= n:
                    raise EntityParseError(
                        f"Can't find end of a URL at byte offset {_byte_offset(text, i + 2)}"
                    )
                i = end + 1
            else:
                url = out.since(opened.out_len)
                i += 1
            entity = _link_entity(url, opened.u16, length, users)
        else:  # custom_emoji
            if not (i + 1 < n and text[i + 1] == "("):
                raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
            url, end = read_url(i + 2)
            if end >= n:
                raise EntityParseError(
                    f"Can't find end of a URL at byte offset {_byte_offset(text, i + 2)}"
                )
            i = end + 1
            emoji = _EMOJI_LINK.fullmatch(url)
            if emoji is None or int(emoji.group(1)) == 0:
                raise EntityParseError("Custom emoji URL must have an emoji identifier")
            entity = {
                "type": "custom_emoji",
                "offset": opened.u16,
                "length": length,
                "custom_emoji_id": emoji.group(1),
            }
        if entity is not None and length > 0:
            entities.append(entity)
    if stack:
        opened = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MDV2_NAMES[opened.kind]} entity at byte offset "
            f"{_byte_offset(text, opened.start)}"
        )
    close_quote()
    return out.text(), entities


_TRIM_CHARS = "".join(chr(code) for code in range(33))  # space and the C0 controls


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip leading/trailing whitespace like Telegram and clip the entities accordingly."""
    stripped_left = text.lstrip(_TRIM_CHARS)
    left = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip(_TRIM_CHARS)
    total = utf16_len(result)
    fixed: list[dict[str, Any]] = []
    for entity in entities:
        start = max(entity["offset"] - left, 0)
        end = min(entity["offset"] + entity["length"] - left, total)
        if end > start:
            fixed.append({**entity, "offset": start, "length": end - start})
    fixed.sort(key=lambda e: (e["offset"], -e["length"]))
    return result, fixed


def parse_formatted_text(
    text: str,
    parse_mode: str | None,
    *,
    strict_html_entities: bool = True,
    users: UserLookup | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """Parse ``text`` like Telegram does for ``parse_mode`` and return ``(plain, entities)``.

    The plain text is trimmed of surrounding whitespace as Telegram does; entity offsets and
    lengths are in UTF-16 code units.  Raises :class:`EntityParseError` for text Telegram
    rejects with ``can't parse entities``, and :class:`ValueError` for an unknown parse mode.
    """
    lookup = users or _placeholder_user
    mode = (parse_mode or "").lower()
    if mode == "":
        plain, entities = text, []
    elif mode == "html":
        plain, entities = _parse_html(text, lookup, strict_entities=strict_html_entities)
    elif mode == "markdown":
        plain, entities = _parse_markdown(text, lookup)
    elif mode == "markdownv2":
        plain, entities = _parse_markdown_v2(text, lookup)
    else:
        raise ValueError(f"unsupported parse_mode {parse_mode!r}")
    return _trim(plain, entities)


def detect_incoming_entities(text: str) -> list[dict[str, Any]]:
    """The ``bot_command`` and ``mention`` entities Telegram attaches to a user's message."""
    found: list[tuple[int, int, str]] = []
    n = len(text)
    i = text.find("/")
    while i >= 0:
        if i > 0 and (_is_word_char(text[i - 1]) or text[i - 1] in "/<>\\"):
            i = text.find("/", i + 1)
            continue
        j = i + 1
        while j < n and _is_ascii_word_char(text[j]):
            j += 1
        if j == i + 1 or j - i - 1 > 64:
            i = text.find("/", max(j, i + 1))
            continue
        end = j
        if j < n and text[j] == "@":
            k = j + 1
            while k < n and _is_ascii_word_char(text[k]):
                k += 1
            if 3 <= k - j - 1 <= 32:
                end = k
        if end < n and (_is_word_char(text[end]) or text[end] in "/<>\\"):
            i = text.find("/", end)
            continue
        found.append((i, end, "bot_command"))
        i = text.find("/", end)

    for match in re.finditer(r"@([A-Za-z0-9_]{5,32})", text):
        start, end = match.span()
        if start > 0 and (_is_word_char(text[start - 1]) or text[start - 1] in "@/"):
            continue
        if end < n and (_is_word_char(text[end]) or text[end] == "@"):
            continue
        if any(s <= start < e for s, e, _ in found):
            continue
        found.append((start, end, "mention"))

    found.sort()
    return [
        {
            "offset": utf16_len(text[:start]),
            "length": utf16_len(text[start:end]),
            "type": kind,
        }
        for start, end, kind in found
    ]


def _validate_reply_markup(raw: Any) -> dict[str, Any] | None:
    if raw is None or raw == "":
        return None
    markup = raw
    if isinstance(raw, str):
        try:
            markup = json.loads(raw)
        except ValueError:
            raise _bad_request("can't parse reply keyboard markup JSON object") from None
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _validate_inline_keyboard(markup["inline_keyboard"])
    elif "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request('field "keyboard" must be an Array of Arrays')
        for row in rows:
            for button in row:
                if isinstance(button, dict):
                    if not isinstance(button.get("text"), str):
                        raise _bad_request("can't parse keyboard button: Can't find field \"text\"")
                elif not isinstance(button, str):
                    raise _bad_request("can't parse keyboard button: Object expected")
    elif markup.get("remove_keyboard") is not True and markup.get("force_reply") is not True:
        raise _bad_request("can't parse reply keyboard markup JSON object")
    return markup


def _validate_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list):
        raise _bad_request('field "inline_keyboard" must be of type Array')
    if not all(isinstance(row, list) for row in rows):
        raise _bad_request('field "inline_keyboard" must be an Array of Arrays')
    buttons = [button for row in rows for button in row]
    if len(buttons) > MAX_INLINE_BUTTONS:
        raise _bad_request("reply markup is too long")
    actions = (
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
    for button in buttons:
        if not isinstance(button, dict):
            raise _bad_request("can't parse inline keyboard button: Object expected")
        if not isinstance(button.get("text"), str):
            raise _bad_request("can't parse inline keyboard button: Can't find field \"text\"")
        if not any(key in button for key in actions):
            raise _bad_request(
                "can't parse inline keyboard button: Text buttons are unallowed in the inline "
                "keyboard"
            )
    for button in buttons:
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str):
                raise _bad_request(
                    'can\'t parse inline keyboard button: Field "callback_data" must be of type '
                    "String"
                )
            if not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
                raise _bad_request("BUTTON_DATA_INVALID")
        if "url" in button:
            url = button["url"]
            scheme = _URL_SCHEME.match(url) if isinstance(url, str) else None
            if (
                not isinstance(url, str)
                or _check_link(url) is None
                or (scheme is not None and scheme.group(1).lower() not in ("http", "https", "tg"))
            ):
                raise _bad_request("BUTTON_URL_INVALID")


# --------------------------------------------------------------------------------------------
# Request parameters
# --------------------------------------------------------------------------------------------


class _Params:
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
                raise _bad_request(missing)
            return None
        if isinstance(value, bool):
            raise _bad_request(f'wrong parameter "{name}" specified')
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise _bad_request(f'wrong parameter "{name}" specified') from None

    def get_float(self, name: str, default: float) -> float:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad_request(f'wrong parameter "{name}" specified') from None

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
                raise _bad_request(f"can't parse {what} JSON object") from None
        return value


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}
    if media_type == "application/json":
        try:
            decoded = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _bad_request("can't parse JSON encoded request") from None
        if not isinstance(decoded, dict):
            raise _bad_request("can't parse JSON encoded request")
        return decoded
    if media_type == "multipart/form-data":
        header = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
        message = BytesParser(policy=HTTP_POLICY).parsebytes(header + body)
        params: dict[str, Any] = {}
        if not message.is_multipart():
            raise _bad_request("can't parse multipart request")
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
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad_request("request body is not valid UTF-8") from None
    return dict(parse_qsl(text, keep_blank_values=True))


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _RequestHandler)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def drop_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx/1.18.0"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY every answer would
        # wait for the peer's delayed ACK (~40 ms on Linux).
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _serve(self) -> None:
        body = self._read_body()
        answer = self.server.api._handle_http(
            self.path, self.headers.get("Content-Type", ""), body, self._client_gone
        )
        if answer is None:
            self.close_connection = True
            return
        status, payload = answer
        data = json.dumps(payload).encode("ascii")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True


def loopback_request(connection_pool_size: int = 8, **kwargs: Any) -> Any:
    """A PTB ``HTTPXRequest`` for talking to the fake: plain HTTP, so no TLS context is built.

    Purely a speed-up (PTB's default request loads the CA bundle, ~0.05-0.1 s per instance):
    ``ApplicationBuilder().request(loopback_request()).get_updates_request(loopback_request())``
    or ``Bot(..., request=loopback_request(), get_updates_request=loopback_request(1))``.
    """
    from telegram.request import HTTPXRequest  # local import: the server itself needs no PTB

    httpx_kwargs = {"verify": False, "trust_env": False, **kwargs.pop("httpx_kwargs", {})}
    return HTTPXRequest(
        connection_pool_size=connection_pool_size, httpx_kwargs=httpx_kwargs, **kwargs
    )


@contextlib.asynccontextmanager
async def polling(app: Any, allowed_updates: list[str] | None = None) -> AsyncIterator[Any]:
    """Run a built PTB ``Application`` against the fake until the block ends.

    The order ``run_polling`` uses (initialize, post_init, start polling, start), which
    ``run_polling`` itself cannot give here: it blocks and owns the event loop.
    """
    async with app:
        if app.post_init is not None:
            await app.post_init(app)
        await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=allowed_updates)
        await app.start()
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


# --------------------------------------------------------------------------------------------
# The fake server
# --------------------------------------------------------------------------------------------


class FakeBotAPI:
    """A Telegram Bot API look-alike on ``127.0.0.1`` for driving a real PTB application.

    All state is guarded by one condition variable, so the helpers may be used from the test
    thread while PTB calls the server from its own connections.
    """

    def __init__(
        self,
        token: str = TOKEN,
        *,
        extra_tokens: Iterable[str] = (),
        bot_username: str = BOT_USERNAME,
        bot_first_name: str = BOT_FIRST_NAME,
        first_update_id: int = 1,
        strict_html_entities: bool = True,
    ) -> None:
        if not _TOKEN_SHAPE.fullmatch(token):
            raise ValueError(f"token {token!r} does not look like a Bot API token")
        self.token = token
        self._tokens = frozenset({token, *extra_tokens})
        self.bot_id = int(token.split(":", 1)[0])
        self.strict_html_entities = strict_html_entities
        self._bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self._me: dict[str, Any] = {
            **self._bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._cond = threading.Condition()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

        self._users: dict[int, dict[str, Any]] = {}
        self._chats: dict[int, _Chat] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = first_update_id
        self._delivered_up_to = first_update_id - 1
        self._dropped_updates: list[dict[str, Any]] = []
        self._allowed_updates: frozenset[str] | None = None
        self._get_updates_calls = 0
        self._updates_offset = 0
        self._poll_generation = 0
        self._webhook_url = ""
        self._queries: dict[str, _Query] = {}
        self._query_ids = itertools.count(1)
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._sent: list[Call] = []
        self._rejected: list[Rejection] = []
        self._internal_errors: list[str] = []

        handlers: dict[str, Callable[[_Params], tuple[Any, dict[str, Any]]]] = {
            "getMe": self._api_get_me,
            "logOut": self._api_ok,
            "close": self._api_ok,
            "deleteWebhook": self._api_delete_webhook,
            "setWebhook": self._api_set_webhook,
            "getWebhookInfo": self._api_get_webhook_info,
            "setMyCommands": self._api_set_my_commands,
            "getMyCommands": self._api_get_my_commands,
            "deleteMyCommands": self._api_delete_my_commands,
            "sendMessage": self._api_send_message,
            "editMessageText": self._api_edit_message_text,
            "answerCallbackQuery": self._api_answer_callback_query,
            "sendChatAction": self._api_send_chat_action,
            "getChatMember": self._api_get_chat_member,
            "getChat": self._api_get_chat,
            "deleteMessage": self._api_delete_message,
        }
        self._handlers = handlers
        # Bot API method names are case-insensitive.
        self._method_names = {name.lower(): name for name in [*handlers, "getUpdates"]}

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> FakeBotAPI:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        with self._cond:
            if self._server is not None:
                return self
            self._stopping = False
            server = _Server(self)
            self._server = server
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"FakeBotAPI:{server.server_address[1]}",
            daemon=True,
        )
        self._thread = thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; pending long polls are released and open connections dropped."""
        with self._cond:
            server = self._server
            if server is None:
                return
            self._stopping = True
            self._cond.notify_all()
        server.shutdown()
        server.drop_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._cond:
            self._server = None
            self._thread = None

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        server = self._server
        if server is None:
            raise RuntimeError("FakeBotAPI is not running; call start() first")
        return int(server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/bot`` - PTB appends the token and ``/method``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def bot_user(self) -> dict[str, Any]:
        return dict(self._bot_user)

    # ---------------------------------------------------------------- world set-up

    def add_user(
        self,
        user_id: int,
        first_name: str,
        username: str | None = None,
        *,
        last_name: str | None = None,
        language_code: str | None = None,
        is_bot: bool = False,
    ) -> dict[str, Any]:
        """Register (or replace) a Telegram user; returns the ``User`` JSON object."""
        user: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        with self._cond:
            self._users[user_id] = user
        return dict(user)

    def add_private_chat(
        self,
        user_id: int,
        first_name: str,
        username: str | None = None,
        *,
        last_name: str | None = None,
        language_code: str | None = None,
    ) -> int:
        """Register a user and their private chat with the bot (chat id == user id)."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        self.add_user(
            user_id, first_name, username, last_name=last_name, language_code=language_code
        )
        with self._cond:
            self._chats[user_id] = _Chat(
                id=user_id,
                type="private",
                first_name=first_name,
                last_name=last_name,
                username=username,
                members={user_id: "member", self.bot_id: "member"},
            )
        return user_id

    def add_group(
        self,
        chat_id: int,
        title: str,
        members: Mapping[int, str] | None = None,
        *,
        supergroup: bool | None = None,
        username: str | None = None,
        bot_status: str = "member",
    ) -> int:
        """Register a group. ``members`` maps user id to a ChatMember status.

        Ids below ``-1000000000000`` (the ``-100...`` form) become supergroups unless
        ``supergroup`` says otherwise.  Unknown member ids get a placeholder user.
        """
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        is_super = chat_id <= -1_000_000_000_000 if supergroup is None else supergroup
        statuses = dict(members or {})
        for status in [*statuses.values(), bot_status]:
            if status not in _MEMBER_STATUSES:
                raise ValueError(f"unknown chat member status {status!r}")
        with self._cond:
            for user_id in statuses:
                self._users.setdefault(user_id, _placeholder_user(user_id))
            statuses[self.bot_id] = bot_status
            self._chats[chat_id] = _Chat(
                id=chat_id,
                type="supergroup" if is_super else "group",
                title=title,
                username=username,
                members=statuses,
                bot_status=bot_status,
            )
        return chat_id

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        if status not in _MEMBER_STATUSES:
            raise ValueError(f"unknown chat member status {status!r}")
        with self._cond:
            chat = self._require_chat(chat_id)
            self._users.setdefault(user_id, _placeholder_user(user_id))
            chat.members[user_id] = status
            if user_id == self.bot_id:
                chat.bot_status = status

    def block_chat(self, chat_id: int) -> None:
        """The user blocked the bot (private) or the bot was kicked (group)."""
        with self._cond:
            self._require_chat(chat_id).blocked = True

    def unblock_chat(self, chat_id: int) -> None:
        with self._cond:
            self._require_chat(chat_id).blocked = False

    # ---------------------------------------------------------------- incoming updates

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
            user = self._users.get(user_id)
            if user is None:
                raise ValueError(f"unknown user {user_id}; register it first")
            if chat.type == "private" and chat.id != user_id:
                raise ValueError("in a private chat the sender is the chat's user")
            if chat.type != "private" and chat.members.get(user_id) in (None, "left", "kicked"):
                raise ValueError(f"user {user_id} is not a member of chat {chat_id}")
            message: dict[str, Any] = {
                "message_id": self._next_message_id(chat),
                "from": dict(user),
                "chat": chat.to_json(),
                "date": int(time.time()),
            }
            if reply_to_message_id is not None:
                replied = chat.messages.get(reply_to_message_id)
                if replied is None:
                    raise ValueError(f"no message {reply_to_message_id} in chat {chat_id}")
                message["reply_to_message"] = _without_reply(replied)
            message["text"] = text
            found = detect_incoming_entities(text) if entities is None else list(entities)
            if found:
                message["entities"] = found
            chat.messages[message["message_id"]] = message
            return self._enqueue("message", message)

    def press_button(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        data: str,
        *,
        check_button: bool = True,
    ) -> int:
        """A user presses an inline button with ``callback_data == data``; returns update id."""
        with self._cond:
            chat = self._require_chat(chat_id)
            user = self._users.get(user_id)
            if user is None:
                raise ValueError(f"unknown user {user_id}; register it first")
            message = chat.messages.get(message_id)
            if message is None:
                raise ValueError(f"no message {message_id} in chat {chat_id}")
            if check_button:
                rows = message.get("reply_markup", {}).get("inline_keyboard", [])
                datas = [b.get("callback_data") for row in rows for b in row]
                if data not in datas:
                    raise ValueError(
                        f"message {message_id} has no button with callback_data {data!r} "
                        f"(has {datas!r})"
                    )
            query_id = f"{self.bot_id}{next(self._query_ids):06d}"
            self._queries[query_id] = _Query(query_id)
            query = {
                "id": query_id,
                "from": dict(user),
                "message": json.loads(json.dumps(message)),
                "chat_instance": str(abs(chat_id) * 7919 + self.bot_id),
                "data": data,
            }
            return self._enqueue("callback_query", query)

    def add_update(self, kind: str, payload: dict[str, Any]) -> int:
        """Queue an arbitrary update ``{"update_id": ..., kind: payload}``; returns its id."""
        with self._cond:
            return self._enqueue(kind, payload)

    # ---------------------------------------------------------------- inspection

    @property
    def sent(self) -> list[Call]:
        with self._cond:
            return list(self._sent)

    @property
    def rejected(self) -> list[Rejection]:
        with self._cond:
            return list(self._rejected)

    @property
    def internal_errors(self) -> list[str]:
        """Tracebacks of bugs in the fake itself (answered with 500); should stay empty."""
        with self._cond:
            return list(self._internal_errors)

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
        key = (_scope_key(dict(scope) if scope else {"type": "default"}), language_code)
        with self._cond:
            found = self._commands.get(key)
            return None if found is None else [dict(c) for c in found]

    def calls(self, method: str) -> list[Call]:
        with self._cond:
            return [call for call in self._sent if call.method == method]

    def messages_to(self, chat_id: int, *, include_edits: bool = False) -> list[Call]:
        """Accepted ``sendMessage`` calls (and optionally ``editMessageText``) to a chat."""
        methods = {"sendMessage", "editMessageText"} if include_edits else {"sendMessage"}
        with self._cond:
            return [c for c in self._sent if c.method in methods and c.chat_id == chat_id]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """The current state of a message (after edits) or ``None`` if absent/deleted."""
        with self._cond:
            chat = self._chats.get(chat_id)
            found = chat.messages.get(message_id) if chat else None
            return json.loads(json.dumps(found)) if found is not None else None

    def chat_history(self, chat_id: int) -> list[dict[str, Any]]:
        """All live messages of a chat, from users and the bot, oldest first."""
        with self._cond:
            chat = self._require_chat(chat_id)
            return [json.loads(json.dumps(chat.messages[k])) for k in sorted(chat.messages)]

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

    def clear_records(self) -> None:
        """Forget recorded calls and rejections (chats and messages stay)."""
        with self._cond:
            self._sent.clear()
            self._rejected.clear()

    # ---------------------------------------------------------------- waiting

    def wait_for(
        self, predicate: Callable[[Call], bool], timeout: float = 10.0, *, since: int = 0
    ) -> Call:
        """Block until a recorded call (index >= ``since``) satisfies ``predicate``.

        Do not use from a coroutine running on the bot's event loop: use
        :meth:`wait_for_async`.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            checked = since
            while True:
                for call in self._sent[checked:]:
                    if predicate(call):
                        return call
                checked = max(checked, len(self._sent))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._timeout_message(timeout))
                self._cond.wait(remaining)

    async def wait_for_async(
        self, predicate: Callable[[Call], bool], timeout: float = 10.0, *, since: int = 0
    ) -> Call:
        """Like :meth:`wait_for` but yields to the event loop while waiting."""
        deadline = time.monotonic() + timeout
        checked = since
        while True:
            with self._cond:
                for call in self._sent[checked:]:
                    if predicate(call):
                        return call
                checked = max(checked, len(self._sent))
                if time.monotonic() >= deadline:
                    raise TimeoutError(self._timeout_message(timeout))
            await asyncio.sleep(0.005)

    def wait_delivered(self, update_id: int, timeout: float = 10.0) -> None:
        """Block until ``getUpdates`` has handed ``update_id`` to the bot."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._delivered_up_to < update_id:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"update {update_id} was not fetched within {timeout}s")
                self._cond.wait(remaining)

    async def wait_delivered_async(self, update_id: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                if self._delivered_up_to >= update_id:
                    return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"update {update_id} was not fetched within {timeout}s")
            await asyncio.sleep(0.005)

    def _timeout_message(self, timeout: float) -> str:
        recent = ", ".join(
            f"{c.method}(chat_id={c.chat_id!r}, text={c.text!r})" for c in self._sent[-8:]
        )
        refused = ", ".join(f"{r.method}: {r.description}" for r in self._rejected[-5:])
        return (
            f"no matching call within {timeout}s; recent calls: [{recent}]; "
            f"recent rejections: [{refused}]"
        )

    # ---------------------------------------------------------------- failure injection

    def fail_next(
        self,
        method: str,
        n: int = 1,
        code: int = 429,
        retry_after: int = 1,
        description: str | None = None,
    ) -> None:
        """Make the next ``n`` calls of ``method`` fail the way Telegram would.

        ``code`` 429 answers ``Too Many Requests: retry after N`` with
        ``parameters.retry_after``; 500 ``Internal Server Error``; 502 ``Bad Gateway``; 403
        ``Forbidden: bot was blocked by the user``; 400 ``Bad Request: <description>``; 409 the
        concurrent-getUpdates conflict.  ``description`` overrides the text.
        """
        canonical = self._method_names.get(method.lower())
        if canonical is None:
            raise ValueError(f"the fake does not implement {method!r}")
        parameters: dict[str, Any] | None = None
        if code == 429:
            text = f"Too Many Requests: retry after {retry_after}"
            parameters = {"retry_after": retry_after}
        elif code == 500:
            text = "Internal Server Error"
        elif code == 502:
            text = "Bad Gateway"
        elif code == 403:
            text = "Forbidden: bot was blocked by the user"
        elif code == 400:
            text = f"Bad Request: {description or 'chat not found'}"
            description = None
        elif code == 401:
            text = "Unauthorized"
        elif code == 409:
            text = (
                "Conflict: terminated by other getUpdates request; make sure that only one bot "
                "instance is running"
            )
        else:
            try:
                text = HTTPStatus(code).phrase
            except ValueError:
                text = "Unknown Error"
        if description is not None:
            text = description
        with self._cond:
            self._failures.setdefault(canonical, []).append(
                _Failure(n, ApiError(code, text, parameters))
            )

    # ---------------------------------------------------------------- request handling

    def _handle_http(
        self, path: str, content_type: str, body: bytes, client_gone: Callable[[], bool]
    ) -> tuple[int, dict[str, Any]] | None:
        split = urlsplit(path)
        match = re.fullmatch(r"/bot([^/]*)/([^/]+)/?", split.path)
        if match is None:
            return 404, ApiError(404, "Not Found").payload()
        token, method_raw = match.groups()
        method = self._method_names.get(method_raw.lower(), method_raw)
        params: dict[str, Any] = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            if not _TOKEN_SHAPE.fullmatch(token):
                raise ApiError(404, "Not Found")
            if token not in self._tokens:
                raise ApiError(401, "Unauthorized")
            if method not in self._handlers and method != "getUpdates":
                raise ApiError(404, "Not Found")
            params.update(_parse_body(content_type, body))
        except ApiError as error:
            self._reject(method, params, error, injected=False)
            return error.code, error.payload()
        except Exception:  # malformed body the parsers did not foresee
            with self._cond:
                self._internal_errors.append(traceback.format_exc())
            error = ApiError(400, "Bad Request: can't parse request")
            self._reject(method, params, error, injected=False)
            return error.code, error.payload()
        return self._dispatch(method, _Params(params), client_gone)

    def _dispatch(
        self, method: str, params: _Params, client_gone: Callable[[], bool]
    ) -> tuple[int, dict[str, Any]] | None:
        with self._cond:
            injected = self._take_failure(method)
            if injected is not None:
                if method == "getUpdates":
                    self._get_updates_calls += 1
                self._reject(method, params.data, injected, injected=True)
                return injected.code, injected.payload()
            try:
                if method == "getUpdates":
                    updates = self._get_updates(params, client_gone)
                    if updates is None:
                        return None
                    return 200, {"ok": True, "result": updates}
                result, details = self._handlers[method](params)
            except ApiError as error:
                self._reject(method, params.data, error, injected=False)
                return error.code, error.payload()
            except Exception:  # a bug in the fake: make it loud but keep serving
                self._internal_errors.append(traceback.format_exc())
                error = ApiError(500, "Internal Server Error")
                self._reject(method, params.data, error, injected=False)
                return error.code, error.payload()
            self._record(method, params, result, details)
            return 200, {"ok": True, "result": result}

    def _take_failure(self, method: str) -> ApiError | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            queue.pop(0)
        return failure.error

    def _record(self, method: str, params: _Params, result: Any, details: dict[str, Any]) -> None:
        chat_id = details.get("chat_id", _normalize_chat_id(params.raw("chat_id")))
        raw_markup = details.get("reply_markup")
        self._sent.append(
            Call(
                method=method,
                chat_id=chat_id,
                text=params.get_str("text"),
                parse_mode=params.get_str("parse_mode"),
                reply_markup=raw_markup,
                message_id=details.get("message_id"),
                time=time.monotonic(),
                params=dict(params.data),
                plain_text=details.get("plain_text"),
                entities=list(details.get("entities", [])),
                result=result,
            )
        )
        self._cond.notify_all()

    def _reject(
        self, method: str, params: Mapping[str, Any], error: ApiError, *, injected: bool
    ) -> None:
        with self._cond:
            chat_id = _normalize_chat_id(params.get("chat_id"))
            self._rejected.append(
                Rejection(
                    method=method,
                    chat_id=chat_id,
                    error_code=error.code,
                    description=error.description,
                    time=time.monotonic(),
                    params=dict(params),
                    injected=injected,
                )
            )
            self._cond.notify_all()

    # ---------------------------------------------------------------- state helpers

    def _require_chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise ValueError(f"unknown chat {chat_id}; register it with add_private_chat/add_group")
        return chat

    def _next_message_id(self, chat: _Chat) -> int:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        return message_id

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        update = {"update_id": update_id, kind: payload}
        allowed = (
            kind not in _OPT_IN_UPDATES
            if self._allowed_updates is None
            else kind in self._allowed_updates
        )
        if allowed:
            self._updates.append(update)
        else:
            self._dropped_updates.append(update)
        self._cond.notify_all()
        return update_id

    def _user_json(self, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_id:
            return dict(self._bot_user)
        return dict(self._users.get(user_id) or _placeholder_user(user_id))

    def _resolve_chat(self, params: _Params, name: str = "chat_id") -> _Chat:
        raw = params.raw(name)
        if raw is None or raw == "":
            raise _bad_request("chat_id is empty")
        chat: _Chat | None = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            chat = self._chats.get(raw)
        elif isinstance(raw, str):
            value = raw.strip()
            if value.startswith("@"):
                wanted = value[1:].lower()
                chat = next(
                    (
                        c
                        for c in self._chats.values()
                        if c.type != "private" and (c.username or "").lower() == wanted
                    ),
                    None,
                )
            else:
                with contextlib.suppress(ValueError):
                    chat = self._chats.get(int(value))
        if chat is None:
            raise _bad_request("chat not found")
        return chat

    def _check_writable(self, chat: _Chat) -> None:
        kind = {"group": "group chat", "supergroup": "supergroup chat"}.get(chat.type, "chat")
        if chat.type == "private":
            return
        if chat.blocked or chat.bot_status == "kicked":
            raise _forbidden(f"bot was kicked from the {kind}")
        if chat.bot_status == "left":
            raise _forbidden(f"bot is not a member of the {kind}")

    def _check_not_blocked(self, chat: _Chat) -> None:
        if chat.type == "private" and chat.blocked:
            raise _forbidden("bot was blocked by the user")

    def _formatted(self, params: _Params) -> tuple[str, list[dict[str, Any]]]:
        text = params.get_str("text")
        if text is None or not text.strip():
            raise _bad_request("message text is empty")
        explicit = params.get_json("entities", "message entities")
        if explicit:
            if not isinstance(explicit, list):
                raise _bad_request("can't parse message entities JSON object")
            return _trim(text, [dict(e) for e in explicit if isinstance(e, dict)])
        parse_mode = params.get_str("parse_mode")
        try:
            return parse_formatted_text(
                text,
                parse_mode,
                strict_html_entities=self.strict_html_entities,
                users=self._user_json,
            )
        except EntityParseError as error:
            raise _bad_request(f"can't parse entities: {error}") from None
        except ValueError:
            raise _bad_request("unsupported parse_mode") from None

    def _check_length(self, plain: str) -> None:
        if not plain:
            raise _bad_request("message text is empty")
        if utf16_len(plain) > MAX_MESSAGE_LENGTH:
            raise _bad_request("message is too long")

    # ---------------------------------------------------------------- API methods

    def _api_ok(self, params: _Params) -> tuple[Any, dict[str, Any]]:
        return True, {}

    def _api_get_me(self, params: _Params) -> tuple[Any, dict[str, Any]]:
        return dict(self._me), {}

    def _get_updates(
        self, params: _Params, client_gone: Callable[[], bool]
    ) -> list[dict[str, Any]] | None:
        """Long polling; runs with ``self._cond`` held and waits on it."""
        self._get_updates_calls += 1
        offset = params.get_int("offset") or 0
        limit = min(max(params.get_int("limit") or 100, 1), 100)
        timeout = min(max(params.get_float("timeout", 0.0), 0.0), _MAX_POLL_TIMEOUT)
        allowed = params.get_json("allowed_updates", "allowed updates")
        if self._webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(str(a) for a in allowed) if allowed else None
        self._updates_offset = offset
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._cond.notify_all()
        deadline = time.monotonic() + timeout
        while True:
            if self._stopping:
                return []
            if generation != self._poll_generation:
                # A newer getUpdates (or setWebhook) took over. A client that already hung up
                # (PTB cancelling its poll on shutdown) gets no answer and no rejection record.
                if client_gone():
                    return None
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            if self._updates:
                if client_gone():
                    return None
                batch = [json.loads(json.dumps(u)) for u in self._updates[:limit]]
                self._delivered_up_to = max(self._delivered_up_to, batch[-1]["update_id"])
                self._cond.notify_all()
                return batch
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            if client_gone():
                return None
            self._cond.wait(min(remaining, _POLL_SLICE))

    def _api_delete_webhook(self, params: _Params) -> tuple[Any, dict[str, Any]]:
        self._webhook_url = ""
        if params.get_bool("drop_pending_updates"):
            self._updates.clear()
        return True, {}

    def _api_set_webhook(self, params: _Params) -> tuple[Any, dict[str, Any]]:
        url = (params.get_str("url") or "").strip()
        if url and not url.lower().startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if params.get_bool("drop_pending_updates"):
            self._updates.clear()
        self._webhook_url = url
        self._poll_generation += 1  # a webhook ends any long poll in progress
        return True, {}

    def _api_get_webhook_info(self, params: _Params) -> tuple[Any, dict[str, Any]]:
        info: dict[str, Any] = {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook_url:
            info["max_connections"] = 40
        return info, {}

    def _command_key(self, params: _Params) -> tuple[str, str]:
        scope = params.get_json("scope", "bot command scope")
        if scope is None:
            scope = {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
            raise _bad_request("unsupported bot command scope type")
        scope = dict(scope)
        if scope["type"] in ("chat", "chat_administrators", "chat_member"):
            scope["chat_id"] = self._resolve_chat(_Params(scope)).id
        if scope["type"] == "chat_member":
            scope["user_id"] = _Params(scope).get_int("user_id", missing="user not found")
        return _scope_key(scope), params.get_str("language_code") or ""

    def _api_set_my_commands(self, params: _Params) -> tuple[Any, dict[str, Any]]:
        commands = params.get_json("commands", "bot commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        if len(commands) > MAX_BOT_COMMANDS:
            raise _bad_request("BOT_COMMANDS_TOO_MUCH")
        cleaned: list[dict[str, Any]] = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad_request("can't parse BotCommand: Object expected")
            command = item.get("command")
            description = item.get("description")
            if not isinstance(command, str):
                raise _bad_request("can't parse BotCommand: Can't find field \"command\"")
            if not isinstance(description, str):
                raise _bad_request("can't parse BotCommand: Can't find field \"description\"")
            command = command.strip().removeprefix("/")
            description = description.strip()
            if not command:
                raise _bad_request("command must be non-empty")
            if len(command) > 32:
                raise _bad_request("command length must not exceed 32")
            if not re.fullmatch(r"[a-z0-9_]+", command):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not description:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            if len(description) > 256:
                raise _bad_request("command description length must not exceed 256")
            cleaned.append({"command": command, "description": description})
        key = self._command_key(params)
        if cleaned:
            self._commands[key] = cleaned
        else:
            self._commands.pop(key, None)
        return True, {}

    def _api_get_my_commands(self, params: _Params) -> tuple[Any, dict[str, Any]]:
        key = self._command_key(params)
        return [dict(c) for c in self._commands.get(key, [])], {}

    def _api_delete_my_commands(self, params: _Params) -> tuple[Any, dict[str, Any]]:
        self._commands.pop(self._command_key(params), None)
        return True, {}

    def _reply_target(self, chat: _Chat, params: _Params) -> dict[str, Any] | None:
        reply = params.get_json("reply_parameters", "reply parameters")
        message_id: int | None
        allow_missing = params.get_bool("allow_sending_without_reply")
        if isinstance(reply, dict):
            reply_params = _Params(reply)
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
            raise _bad_request("message to be replied not found")
        return _without_reply(target)

    def _api_send_message(self, params: _Params) -> tuple[Any, dict[str, Any]]:
        plain, entities = self._formatted(params)
        markup = _validate_reply_markup(params.raw("reply_markup"))
        chat = self._resolve_chat(params)
        self._check_writable(chat)
        self._check_length(plain)
        reply_to = self._reply_target(chat, params)
        self._check_not_blocked(chat)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat),
            "from": dict(self._bot_user),
            "chat": chat.to_json(),
            "date": int(time.time()),
        }
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message["text"] = plain
        if entities:
            message["entities"] = entities
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        chat.messages[message["message_id"]] = message
        details = {
            "chat_id": chat.id,
            "message_id": message["message_id"],
            "plain_text": plain,
            "entities": entities,
            "reply_markup": markup,
        }
        return json.loads(json.dumps(message)), details

    def _api_edit_message_text(self, params: _Params) -> tuple[Any, dict[str, Any]]:
        plain, entities = self._formatted(params)
        markup = _validate_reply_markup(params.raw("reply_markup"))
        if markup is not None and "inline_keyboard" not in markup:
            raise _bad_request("inline keyboard expected")
        if params.raw("inline_message_id") not in (None, ""):
            self._check_length(plain)
            details = {"plain_text": plain, "entities": entities, "reply_markup": markup}
            return True, details
        chat = self._resolve_chat(params)
        message_id = params.get_int("message_id", missing="message identifier is not specified")
        assert message_id is not None
        self._check_writable(chat)
        self._check_length(plain)
        message = chat.messages.get(message_id)
        if message is None:
            raise _bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise _bad_request("message can't be edited")
        if (
            message.get("text") == plain
            and message.get("entities", []) == entities
            and message.get("reply_markup") == markup
        ):
            raise _bad_request(_NOT_MODIFIED)
        self._check_not_blocked(chat)
        message["text"] = plain
        if entities:
            message["entities"] = entities
        else:
            message.pop("entities", None)
        if markup is not None:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        details = {
            "chat_id": chat.id,
            "message_id": message_id,
            "plain_text": plain,
            "entities": entities,
            "reply_markup": markup,
        }
        return json.loads(json.dumps(message)), details

    def _api_answer_callback_query(self, params: _Params) -> tuple[Any, dict[str, Any]]:
        query_id = params.get_str("callback_query_id")
        if not query_id:
            raise _bad_request("query_id is empty")
        query = self._queries.get(query_id)
        if query is None or query.answered:
            raise _bad_request(_BAD_QUERY)
        query.answered = True
        return True, {"plain_text": params.get_str("text")}

    def _api_send_chat_action(self, params: _Params) -> tuple[Any, dict[str, Any]]:
        action = params.get_str("action")
        if not action:
            raise _bad_request("action is empty")
        if action not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        chat = self._resolve_chat(params)
        self._check_writable(chat)
        self._check_not_blocked(chat)
        return True, {"chat_id": chat.id}

    def _api_get_chat(self, params: _Params) -> tuple[Any, dict[str, Any]]:
        chat = self._resolve_chat(params)
        info = chat.to_json()
        info["accent_color_id"] = 0
        info["max_reaction_count"] = 11
        return info, {"chat_id": chat.id}

    def _api_get_chat_member(self, params: _Params) -> tuple[Any, dict[str, Any]]:
        chat = self._resolve_chat(params)
        user_id = params.get_int("user_id", missing="user not found")
        assert user_id is not None
        if user_id != self.bot_id and user_id not in self._users:
            raise _bad_request("user not found")
        status = chat.members.get(user_id, "left")
        if chat.type == "private":
            status = "member" if user_id in (chat.id, self.bot_id) else "left"
        return _chat_member(status, self._user_json(user_id)), {"chat_id": chat.id}

    def _api_delete_message(self, params: _Params) -> tuple[Any, dict[str, Any]]:
        chat = self._resolve_chat(params)
        message_id = params.get_int("message_id", missing="message identifier is not specified")
        if message_id is None or message_id not in chat.messages:
            raise _bad_request("message to delete not found")
        del chat.messages[message_id]
        return True, {"chat_id": chat.id, "message_id": message_id}


def _without_reply(message: dict[str, Any]) -> dict[str, Any]:
    copied = json.loads(json.dumps(message))
    copied.pop("reply_to_message", None)
    return copied


def _normalize_chat_id(raw: Any) -> int | str | None:
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            return int(raw.strip())
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    return None if raw is None else str(raw)


def _scope_key(scope: Mapping[str, Any]) -> str:
    return json.dumps(dict(scope), sort_keys=True, separators=(",", ":"))


def _chat_member(status: str, user: dict[str, Any]) -> dict[str, Any]:
    member: dict[str, Any] = {"user": user, "status": status}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(
            can_be_edited=False,
            is_anonymous=False,
            can_manage_chat=True,
            can_delete_messages=True,
            can_manage_video_chats=True,
            can_restrict_members=True,
            can_promote_members=False,
            can_change_info=True,
            can_invite_users=True,
            can_post_stories=False,
            can_edit_stories=False,
            can_delete_stories=False,
            can_pin_messages=True,
        )
    elif status == "restricted":
        member.update(
            is_member=True,
            can_send_messages=False,
            can_send_audios=False,
            can_send_documents=False,
            can_send_photos=False,
            can_send_videos=False,
            can_send_video_notes=False,
            can_send_voice_notes=False,
            can_send_polls=False,
            can_send_other_messages=False,
            can_add_web_page_previews=False,
            can_change_info=False,
            can_invite_users=False,
            can_pin_messages=False,
            can_manage_topics=False,
            can_edit_tag=False,
            until_date=0,
        )
    elif status == "kicked":
        member["until_date"] = 0
    return member
