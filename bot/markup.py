"""Telegram HTML without Telegram: escaping, UTF-16 lengths and splitting to the message limit.

Neutral on purpose: the alerts' digests and the Telegram front end both build messages with
these, and neither needs the other for it. Every piece of text that came from the corpus or
from a user goes through `escape`. The markup we add ourselves is always opened and closed on
the same line; `split_message` relies on that only for neatness: it closes and reopens tags
if it ever has to cut inside one.
"""

from __future__ import annotations

import re

from sectorbot.corpus.text import without_surrogates

MAX_MESSAGE = 4096  # Telegram's limit, in UTF-16 code units of the text as shown
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def bold(html: str) -> str:
    """`html` in bold (kept out of f-strings so that message extraction sees `_()` calls)."""
    return f"<b>{html}</b>"


def escape(text: object) -> str:
    """Text for Telegram HTML: the four characters Telegram knows an entity for, escaped."""
    return without_surrogates(str(text)).translate(_ESCAPES)


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, cut at a word where possible."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + "…"


# --------------------------------------------------------------------------------- splitting

# One token: a tag, a character reference, or a single character.
_PIECE_RE = re.compile(r"<[^<>]*>|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]{2,8});|[\s\S]")
_NAMED = {"&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"'}
_TAG_NAME = re.compile(r"</?\s*([A-Za-z][\w-]*)")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts message length in."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _decode(token: str) -> str:
    if token.startswith("<"):
        return ""
    if len(token) > 1 and token.startswith("&"):
        if token in _NAMED:
            return _NAMED[token]
        body = token[2:-1]
        try:
            code = int(body[1:], 16) if body[:1] in "xX" else int(body)
            return chr(code)
        except (ValueError, OverflowError):
            return token
    return token


def visible_length(html_text: str) -> int:
    """How long Telegram will consider this HTML: tags dropped, entities decoded."""
    return sum(utf16_len(_decode(t)) for t in _PIECE_RE.findall(html_text))


def _apply(stack: list[tuple[str, str]], token: str) -> None:
    """Track which of our tags are open after `token`."""
    if not token.startswith("<") or len(token) < 3:
        return
    name_match = _TAG_NAME.match(token)
    if not name_match:
        return
    name = name_match.group(1).lower()
    if token.startswith("</"):
        if stack and stack[-1][0] == name:
            stack.pop()
    else:
        stack.append((name, token))


def split_message(html_text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Cut HTML into messages of at most `limit` visible UTF-16 units each.

    Cuts go at a blank line if one fits, else at a line end, else between words, else
    between characters; never inside a tag or a character reference. Tags open at a cut
    are closed at the end of one part and reopened at the start of the next.
    """
    if visible_length(html_text) <= limit:
        return [html_text] if _decode_all(html_text).strip() else []
    tokens = _PIECE_RE.findall(html_text)
    widths = [utf16_len(_decode(t)) for t in tokens]
    parts: list[str] = []
    stack: list[tuple[str, str]] = []
    start, n = 0, len(tokens)
    while start < n:
        used, i = 0, start
        paragraph = line = word = None
        while i < n and used + widths[i] <= limit:
            if tokens[i] == "\n" and i > start:
                if i + 1 < n and tokens[i + 1] == "\n":
                    paragraph = i
                else:
                    line = i
            elif tokens[i] == " " and i > start:
                word = i
            used += widths[i]
            i += 1
        cut = n if i >= n else (paragraph or line or word or i)
        if cut <= start:  # cannot happen with limit >= 2; guards against looping forever
            cut = start + 1
        reopen = "".join(raw for _name, raw in stack)
        body = tokens[start:cut]
        for token in body:
            _apply(stack, token)
        close = "".join(f"</{name}>" for name, _raw in reversed(stack))
        part = reopen + "".join(body) + close
        if _decode_all(part).strip():
            parts.append(part)
        start = cut
        while start < n and tokens[start] in (" ", "\n", "\t", "\r"):
            start += 1
    return parts


def _decode_all(html_text: str) -> str:
    return "".join(_decode(t) for t in _PIECE_RE.findall(html_text))
