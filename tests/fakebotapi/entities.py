"""Telegram's formatted-text rules, as the fake applies them to what goes in and out.

Owns: lengths and offsets in UTF-16 code units, the HTML parse mode (text to plain text plus
message entities, with Telegram's ``can't parse entities`` error texts), trimming, link checks,
and the ``bot_command``/``mention`` entities Telegram attaches to a user's message.

Only HTML is parsed.  sectorbot sends nothing else, so ``Markdown`` and ``MarkdownV2`` are
refused outright: a change that starts sending them fails its tests instead of passing against
rules the fake does not check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

UserLookup = Callable[[int], dict[str, Any]]

URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")

_HTML_SPACES = frozenset(" \t\r\n\x0b\x0c")
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
_HTML_TAGS = frozenset({*_HTML_SIMPLE, "a", "tg-emoji", "code", "pre", "blockquote"})
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_NAMED_REFERENCE = re.compile(r"&[A-Za-z][A-Za-z0-9]*;")
_LINK_SCHEMES = frozenset({"http", "https", "tg", "ton", "mailto"})
_USER_LINK = re.compile(r"tg://user\?id=(\d{1,15})", re.IGNORECASE)
_MARKDOWN_MODES = frozenset({"markdown", "markdownv2"})
_ATTRIBUTE_NAME_STOP = _HTML_SPACES | {"=", ">"}
_TRIM_CHARS = "".join(chr(code) for code in range(33))  # space and the C0 controls
_MENTION = re.compile(r"@([A-Za-z0-9_]{5,32})")
_COMMAND_FENCE = "/<>\\"  # characters that may not touch a bot command on either side
_MAX_COMMAND_NAME = 64


class EntityParseError(ValueError):
    """Raised by the HTML parser; the message is what follows ``can't parse entities:``."""


class UnsupportedParseMode(ValueError):
    """A parse mode Telegram knows but the fake refuses, because sectorbot sends only HTML."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit Telegram counts offsets/lengths in."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def placeholder_user(user_id: int) -> dict[str, Any]:
    """The ``User`` object for an id nobody registered."""
    return {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}


def check_parse_mode(parse_mode: str | None) -> None:
    """Refuse ``Markdown`` and ``MarkdownV2`` (any case) with :class:`UnsupportedParseMode`."""
    if (parse_mode or "").lower() in _MARKDOWN_MODES:
        raise UnsupportedParseMode(
            f"unsupported parse_mode {parse_mode!r}: the fake Bot API server supports only HTML"
        )


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
    rejects with ``can't parse entities``, :class:`UnsupportedParseMode` for Markdown and
    MarkdownV2, and :class:`ValueError` for a parse mode Telegram does not know.
    """
    check_parse_mode(parse_mode)
    mode = (parse_mode or "").lower()
    if mode == "":
        return trim(text, [])
    if mode != "html":
        raise ValueError(f"unsupported parse_mode {parse_mode!r}")
    parser = _HtmlParser(text, users or placeholder_user, strict_entities=strict_html_entities)
    return trim(*parser.run())


def trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
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


def check_link(url: str) -> str | None:
    """Normalise a link like Telegram's LinkManager; ``None`` if Telegram would drop it."""
    url = url.strip()
    if not url or any(ch in url for ch in " \t\r\n"):
        return None
    match = URL_SCHEME.match(url)
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


# --------------------------------------------------------------------------------------------
# Incoming text: the entities Telegram detects in what a user types
# --------------------------------------------------------------------------------------------


def detect_incoming_entities(text: str) -> list[dict[str, Any]]:
    """The ``bot_command`` and ``mention`` entities Telegram attaches to a user's message."""
    commands = _find_commands(text)
    found = sorted([*commands, *_find_mentions(text, commands)])
    return [
        {
            "offset": utf16_len(text[:start]),
            "length": utf16_len(text[start:end]),
            "type": kind,
        }
        for start, end, kind in found
    ]


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _ascii_word_end(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isascii() and (text[pos].isalnum() or text[pos] == "_"):
        pos += 1
    return pos


def _find_commands(text: str) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    slash = text.find("/")
    while slash >= 0:
        next_pos, is_command = _command_at(text, slash)
        if is_command:
            found.append((slash, next_pos, "bot_command"))
        slash = text.find("/", next_pos)
    return found


def _command_at(text: str, slash: int) -> tuple[int, bool]:
    """Whether a command starts at ``text[slash]``, and where to look for the next ``/``."""
    if slash > 0 and (_is_word_char(text[slash - 1]) or text[slash - 1] in _COMMAND_FENCE):
        return slash + 1, False
    name_end = _ascii_word_end(text, slash + 1)
    if name_end == slash + 1 or name_end - slash - 1 > _MAX_COMMAND_NAME:
        return name_end, False
    end = _username_end(text, name_end)
    if end < len(text) and (_is_word_char(text[end]) or text[end] in _COMMAND_FENCE):
        return end, False
    return end, True


def _username_end(text: str, name_end: int) -> int:
    """The end of a ``@botname`` suffix (3-32 characters) after a command, else ``name_end``."""
    if not text.startswith("@", name_end):
        return name_end
    end = _ascii_word_end(text, name_end + 1)
    return end if 3 <= end - name_end - 1 <= 32 else name_end


def _find_mentions(text: str, commands: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    for match in _MENTION.finditer(text):
        start, end = match.span()
        if start > 0 and (_is_word_char(text[start - 1]) or text[start - 1] in "@/"):
            continue
        if end < len(text) and (_is_word_char(text[end]) or text[end] == "@"):
            continue
        if any(s <= start < e for s, e, _ in commands):
            continue  # the @botname part of a command is not a mention of its own
        found.append((start, end, "mention"))
    return found


# --------------------------------------------------------------------------------------------
# Outgoing text: parse_mode=HTML
# --------------------------------------------------------------------------------------------


def _byte_offset(text: str, index: int) -> int:
    """Telegram's error texts locate a fault by its offset in the UTF-8 bytes."""
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _decode_reference(text: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference starting at ``text[pos] == "&"`` as Telegram does.

    Returns the character and the index after the reference, or ``None`` when Telegram would
    leave the ``&`` as a literal character.  The trailing ``;`` is optional, as in Telegram.
    """
    if text.startswith("#", pos + 1):
        decoded = _decode_numeric(text, pos)
    else:
        decoded = _decode_named(text, pos)
    if decoded is None:
        return None
    char, end = decoded
    if text.startswith(";", end):
        end += 1
    return char, end


def _decode_numeric(text: str, pos: int) -> tuple[str, int] | None:
    """``&#NNN`` or ``&#xHHH``; Telegram gives up on long ones and on NUL or surrogates."""
    start = pos + 2
    hexadecimal = text[start : start + 1] in ("x", "X")
    if hexadecimal:
        start += 1
    digits = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
    end = start
    while end < len(text) and text[end] in digits and end - pos < 12:
        end += 1
    if end == start or end - pos >= 10:
        return None
    value = int(text[start:end], 16 if hexadecimal else 10)
    if value == 0 or value >= 0x10FFFF or 0xD800 <= value <= 0xDFFF:
        return None
    return chr(value), end


def _decode_named(text: str, pos: int) -> tuple[str, int] | None:
    """``&lt;`` and friends; Telegram knows only the four names HTML escaping needs."""
    end = pos + 1
    while end < len(text) and text[end].isascii() and text[end].isalpha():
        end += 1
    char = _HTML_NAMED.get(text[pos + 1 : end])
    return None if char is None else (char, end)


def _link_entity(url: str, offset: int, length: int, users: UserLookup) -> dict[str, Any] | None:
    user_match = _USER_LINK.fullmatch(url.strip())
    if user_match is not None:
        user = users(int(user_match.group(1)))
        return {"type": "text_mention", "offset": offset, "length": length, "user": user}
    checked = check_link(url)
    if checked is None:
        return None
    return {"type": "text_link", "offset": offset, "length": length, "url": checked}


def _tag_argument(tag: str, attribute: str, value: str) -> str | None:
    """The part of an attribute a tag keeps; ``None`` for attributes Telegram ignores."""
    if tag == "a" and attribute == "href":
        return value
    if tag == "code" and attribute == "class" and value.startswith("language-"):
        return value.removeprefix("language-")
    if tag == "span" and attribute == "class" and value.startswith("tg-"):
        return value.removeprefix("tg-")
    if tag == "tg-emoji" and attribute == "emoji-id":
        return value
    return None


@dataclass
class _Open:
    """A start tag still waiting for its end tag."""

    kind: str
    argument: str
    u16: int  # where the entity starts in the plain text, in UTF-16 code units
    out_len: int  # index into the output parts, to recover the entity's text


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


class _HtmlParser:
    """One left-to-right pass over an HTML message, as Telegram's own parser makes it."""

    def __init__(self, text: str, users: UserLookup, *, strict_entities: bool) -> None:
        self.text = text
        self.users = users
        self.strict_entities = strict_entities
        self.pos = 0
        self.out = _Output()
        self.stack: list[_Open] = []
        self.entities: list[dict[str, Any]] = []

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "&" and self._reference():
                continue
            if char != "<":
                self.out.add(char)
                self.pos += 1
            elif self.text.startswith("</", self.pos):
                self._end_tag()
            else:
                self._start_tag()
        if self.stack:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].kind}"'
            )
        for entity in self.entities:
            entity.pop("_language", None)
        return self.out.text(), self.entities

    def _at(self, index: int) -> str:
        return f"at byte offset {_byte_offset(self.text, index)}"

    def _error(self, what: str, index: int) -> EntityParseError:
        return EntityParseError(f"{what} {self._at(index)}")

    def _skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _HTML_SPACES:
            self.pos += 1

    def _name_end(self, pos: int) -> int:
        while pos < len(self.text) and self.text[pos] not in _HTML_SPACES and self.text[pos] != ">":
            pos += 1
        return pos

    def _reference(self) -> bool:
        """Decode a character reference; ``False`` leaves the ``&`` as literal text."""
        decoded = _decode_reference(self.text, self.pos)
        if decoded is not None:
            self.out.add(decoded[0])
            self.pos = decoded[1]
            return True
        named = _NAMED_REFERENCE.match(self.text, self.pos)
        if self.strict_entities and named is not None:
            # Real Telegram leaves unknown named references as literal text; sectorbot treats
            # them as a bug, so the fake refuses them (strict_html_entities=True).
            raise self._error(f'Unsupported HTML entity "{named.group(0)}"', self.pos)
        return False

    def _start_tag(self) -> None:
        begin = self.pos
        self.pos = self._name_end(begin + 1)
        if self.pos >= len(self.text):
            raise self._error("Unclosed start tag", begin)
        tag = self.text[begin + 1 : self.pos].lower()
        if tag not in _HTML_TAGS:
            raise self._error(f'Unsupported start tag "{tag}"', begin)
        argument = self._attributes(tag, begin)
        self.pos += 1  # the ">"
        if tag == "span" and argument != "spoiler":
            raise self._error('Tag "span" must have class "tg-spoiler"', begin)
        self.stack.append(_Open(tag, argument, self.out.u16, len(self.out.parts)))

    def _attributes(self, tag: str, begin: int) -> str:
        """Read the attributes up to the closing ``>``; returns what the tag keeps of them."""
        argument = ""
        while True:
            self._skip_spaces()
            if self.pos >= len(self.text):
                raise self._error(f'Unclosed start tag "{tag}"', begin)
            if self.text[self.pos] == ">":
                return argument
            name, value = self._attribute(tag, begin)
            if value is None:  # only the bare `expandable` of a blockquote has no value
                argument = "expandable"
                continue
            kept = _tag_argument(tag, name, value)
            if kept is not None:
                argument = kept

    def _attribute(self, tag: str, begin: int) -> tuple[str, str | None]:
        name_begin = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _ATTRIBUTE_NAME_STOP:
            self.pos += 1
        name = self.text[name_begin : self.pos].lower()
        if not name:
            raise self._error(f'Empty attribute name in the tag "{tag}"', begin)
        self._skip_spaces()
        if not self.text.startswith("=", self.pos):
            if tag == "blockquote" and name == "expandable":
                return name, None
            raise self._error(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}"', begin
            )
        self.pos += 1
        self._skip_spaces()
        if self.pos >= len(self.text):
            raise self._error(f'Unclosed start tag "{tag}"', begin)
        if self.text[self.pos] in "'\"":
            return name, self._quoted_value(begin)
        return name, self._bare_value()

    def _quoted_value(self, begin: int) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        parts: list[str] = []
        while self.pos < len(self.text) and self.text[self.pos] != quote:
            decoded = _decode_reference(self.text, self.pos) if self.text[self.pos] == "&" else None
            if decoded is None:
                parts.append(self.text[self.pos])
                self.pos += 1
            else:
                parts.append(decoded[0])
                self.pos = decoded[1]
        if self.pos >= len(self.text):
            raise self._error("Unclosed start tag", begin)
        self.pos += 1
        return "".join(parts)

    def _bare_value(self) -> str:
        start = self.pos
        text = self.text
        while self.pos < len(text) and (
            (text[self.pos].isascii() and text[self.pos].isalnum()) or text[self.pos] in ".-"
        ):
            self.pos += 1
        if self.pos >= len(text) or (text[self.pos] not in _HTML_SPACES and text[self.pos] != ">"):
            raise self._error("Unexpected end of name token", start)
        return text[start : self.pos].lower()

    def _end_tag(self) -> None:
        begin = self.pos
        if not self.stack:
            raise self._error("Unexpected end tag", begin)
        self.pos = self._name_end(begin + 2)
        end_name = self.text[begin + 2 : self.pos].lower()
        self._skip_spaces()
        if not self.text.startswith(">", self.pos):
            raise self._error("Unclosed end tag", begin)
        self.pos += 1
        opened = self.stack.pop()
        if end_name and end_name != opened.kind:
            raise EntityParseError(
                f"Unmatched end tag {self._at(begin)}, "
                f'expected "</{opened.kind}>", found "</{end_name}>"'
            )
        self._close(opened)

    def _close(self, opened: _Open) -> None:
        """Turn a closed tag into its entity; empty ones are dropped, as Telegram does."""
        if opened.kind == "tg-emoji" and (
            not opened.argument.isdigit() or int(opened.argument) == 0
        ):
            raise EntityParseError("Invalid custom emoji identifier specified")
        length = self.out.u16 - opened.u16
        if length <= 0:
            return
        if opened.kind == "pre":
            self._close_pre(opened.u16, length)
            return
        entity = self._entity(opened, length)
        if entity is not None:
            self.entities.append(entity)

    def _entity(self, opened: _Open, length: int) -> dict[str, Any] | None:
        offset = opened.u16
        if opened.kind in _HTML_SIMPLE:
            return {"type": _HTML_SIMPLE[opened.kind], "offset": offset, "length": length}
        if opened.kind == "a":
            url = opened.argument or self.out.since(opened.out_len)
            return _link_entity(url, offset, length, self.users)
        if opened.kind == "code":
            code: dict[str, Any] = {"type": "code", "offset": offset, "length": length}
            if opened.argument:
                code["_language"] = opened.argument  # for an enclosing <pre>; dropped by run()
            return code
        if opened.kind == "tg-emoji":
            return {
                "type": "custom_emoji",
                "offset": offset,
                "length": length,
                "custom_emoji_id": opened.argument,
            }
        kind = "expandable_blockquote" if opened.argument else "blockquote"
        return {"type": kind, "offset": offset, "length": length}

    def _close_pre(self, offset: int, length: int) -> None:
        """``<pre><code class="language-x">`` is one ``pre`` entity with a language."""
        last = self.entities[-1] if self.entities else None
        if (
            last is not None
            and last["type"] == "code"
            and last["offset"] == offset
            and last["length"] == length
            and "_language" in last
        ):
            self.entities[-1] = {
                "type": "pre",
                "offset": offset,
                "length": length,
                "language": last["_language"],
            }
        else:
            self.entities.append({"type": "pre", "offset": offset, "length": length})
