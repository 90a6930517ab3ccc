"""Plain text of HTML fragments (feed summaries and content), in one pass over the input.

Feed authors write these fragments, so the reader must not slow down on hostile markup. The
standard library's `html.parser` re-scans the rest of the input from every `<` of a tag that
never closes (20,000 characters of `<a ` took 40 s) and raises on some declarations (`<![`).
This reader moves forward only: every step consumes what it looked at, and each search for
the end of a tag, comment or quoted value happens at most once per position, so its time
grows with the length of the input and nothing else.

What it reads: block elements start paragraphs, `<br>` breaks a line, the content of script,
style, noscript and template is dropped, character references are decoded, and comments,
declarations and processing instructions disappear. A construct cut off by the end of the
input is kept as text, as a browser shows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape

BLOCK_TAGS = frozenset(
    {
        *("p", "div", "section", "article", "header", "footer", "aside", "main", "blockquote"),
        *("pre", "ul", "ol", "li", "dl", "dt", "dd", "table", "tr", "figure", "figcaption"),
        *("hr", "h1", "h2", "h3", "h4", "h5", "h6"),
    }
)
SKIP_TAGS = frozenset(("script", "style", "noscript", "template"))
RAW_TEXT_TAGS = frozenset(("script", "style"))  # their content is not markup at all

# Every pattern below is a run of one character class or a literal, matched at a given
# position: none can backtrack over more than the run it just matched.
_TAG_NAME_RE = re.compile(r"[A-Za-z][^\s/>]*")
_ATTRIBUTE_RE = re.compile(r"[\s/]*(?:[^\s/>=][^\s/>=]*\s*(?:=\s*(?:[^\s>\"'][^\s>]*)?)?)?")
_QUOTES = "\"'"
_RAW_TEXT_END = {tag: re.compile(rf"</{tag}[\s/>]", re.IGNORECASE) for tag in RAW_TEXT_TAGS}


@dataclass
class _Text:
    """Paragraphs as they are being collected."""

    blocks: list[list[str]] = field(default_factory=lambda: [[]])
    skipping: int = 0

    def data(self, raw: str) -> None:
        if raw and not self.skipping:
            # Source line breaks are just whitespace in HTML; only <br> breaks a line.
            self.blocks[-1].append(unescape(raw).replace("\r", " ").replace("\n", " "))

    def start(self, tag: str) -> None:
        if tag in SKIP_TAGS:
            self.skipping += 1
        elif tag in BLOCK_TAGS:
            self.blocks.append([])
        elif tag == "br":
            self.blocks[-1].append("\n")

    def end(self, tag: str) -> None:
        if tag in SKIP_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in BLOCK_TAGS:
            self.blocks.append([])

    def text(self) -> str:
        paragraphs = []
        for block in self.blocks:
            lines = "".join(block).split("\n")
            paragraph = "\n".join(" ".join(line.split()) for line in lines if line.strip())
            if paragraph:
                paragraphs.append(paragraph)
        return "\n\n".join(paragraphs)


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: block elements become paragraphs, tags go."""
    out = _Text()
    pos, n = 0, len(fragment)
    while pos < n:
        lt = fragment.find("<", pos)
        if lt < 0:
            out.data(fragment[pos:])
            break
        out.data(fragment[pos:lt])
        pos = _markup(fragment, lt, out)
    return out.text()


def _markup(html: str, lt: int, out: _Text) -> int:
    """Read the markup that starts with the `<` at `lt`; return where the text goes on."""
    following = html[lt + 1 : lt + 2]
    if html.startswith("<!--", lt):
        close = html.find("-->", lt + 4)
        return _past(html, lt, close + 2 if close >= 0 else -1, out)
    name = _TAG_NAME_RE.match(html, lt + 2 if following == "/" else lt + 1)
    if following in ("!", "?") or (following == "/" and name is None):
        # A declaration, a processing instruction or a malformed end tag: all vanish.
        return _past(html, lt, html.find(">", lt + 2), out)
    if name is None:  # "a < b", "<3": just text
        out.data("<")
        return lt + 1
    tag = name.group().lower()
    if following != "/":
        return _start_tag(html, lt, tag, name.end(), out)
    close = html.find(">", name.end())
    if close >= 0:
        out.end(tag)
    return _past(html, lt, close, out)


def _past(html: str, lt: int, close: int, out: _Text) -> int:
    """Where text goes on after markup ending at `close`; cut off (-1), it stays text."""
    if close >= 0:
        return close + 1
    out.data(html[lt:])
    return len(html)


def _start_tag(html: str, lt: int, tag: str, pos: int, out: _Text) -> int:
    """Read a start tag's attributes up to its `>`, then emit it; return the position after."""
    n = len(html)
    while pos < n:
        pos = _ATTRIBUTE_RE.match(html, pos).end()  # type: ignore[union-attr]
        char = html[pos : pos + 1]
        if char == ">":
            break
        if char and char in _QUOTES:
            pos = _after_quoted(html, pos)
        elif char:
            pos += 1  # a stray character ("=" without a name): HTML skips it
    if pos >= n:  # the input ends inside the tag
        out.data(html[lt:])
        return n
    out.start(tag)
    if html[pos - 1] == "/":  # <br/>, <p/>: opened and closed at once
        out.end(tag)
    if tag in RAW_TEXT_TAGS:
        return _skip_raw_text(html, tag, pos + 1, out)
    return pos + 1


def _after_quoted(html: str, quote_at: int) -> int:
    """The position after a quoted attribute value.

    An unclosed quote has no quote of its kind after it at all, which can happen only once
    per kind of quote; the value then ends at the next `>`, as the tag's end.
    """
    close = html.find(html[quote_at], quote_at + 1)
    if close >= 0:
        return close + 1
    gt = html.find(">", quote_at + 1)
    return len(html) if gt < 0 else gt


def _skip_raw_text(html: str, tag: str, pos: int, out: _Text) -> int:
    """Skip a script's or style's content up to its end tag (or the end of the input)."""
    closing = _RAW_TEXT_END[tag].search(html, pos)
    out.end(tag)
    if closing is None:
        return len(html)
    gt = html.find(">", closing.start())
    return len(html) if gt < 0 else gt + 1
