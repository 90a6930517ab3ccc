"""Markdown and plain-text files, with optional `key: value` front matter.

Also home to two helpers the other loaders share: `decode_text`, the one place that turns a
text file's bytes into a string, and `ref_stem`, the fallback title of a file or URL.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from urllib.parse import urlsplit

from sectorbot.corpus.dates import parse_date
from sectorbot.corpus.errors import LoadError
from sectorbot.corpus.models import Document

FRONT_MATTER_KEYS = ("id", "title", "source", "url", "date", "lang", "author")
BINARY = "not a text file (binary data)"

# An ATX heading opens with up to three spaces, one to six "#" and a space; what follows is
# taken apart with string methods, as a regex for the whole line backtracks in cubic time
# over long runs of spaces.
_HEADING_OPEN_RE = re.compile(r"\s{0,3}(#{1,6})\s")
_KEY_VALUE_RE = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$")
# Control characters that never occur in real text; a few of them mean binary data.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
# Text counts as UTF-8 with a few broken bytes when its valid non-ASCII characters outnumber
# its invalid byte sequences this many times. Windows-1251 text read as UTF-8 is the reverse:
# nearly every Cyrillic letter is an invalid sequence, and valid ones happen only by chance.
UTF8_MAJORITY = 4


def decode_text(data: bytes) -> str:
    """Bytes of a text file as str: UTF-8 (BOM allowed), else Windows-1251.

    A file that is UTF-8 but for a few bytes keeps its text, with U+FFFD for those bytes;
    cp1251 is the fallback for files that clearly are not UTF-8, because older Ukrainian and
    Russian files use it. cp1251 decodes almost any byte, so control characters are what
    give binary data away.
    """
    if b"\x00" in data:
        raise LoadError(BINARY)
    text = _as_utf8(data)
    if text is None:
        try:
            text = data.decode("cp1251")
        except UnicodeDecodeError:
            raise LoadError(BINARY) from None
    if len(_CONTROL_RE.findall(text)) > max(2, len(text) // 1000):
        raise LoadError(BINARY)
    return text


def _as_utf8(data: bytes) -> str | None:
    """The text if it is UTF-8, or nearly all of it is; None if it clearly is not."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8-sig", errors="replace")
    replaced = text.count("\ufffd")
    invalid = replaced - data.count("\ufffd".encode())  # a U+FFFD the file itself holds
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    valid = non_ascii - replaced
    return text if valid >= UTF8_MAJORITY * invalid else None


def ref_stem(ref: str) -> str:
    """The fallback title of a path or URL: docs/report.pdf and x.org/report.pdf?v=2 give report."""
    if "://" in ref:
        ref = urlsplit(ref).path.rstrip("/") or urlsplit(ref).netloc
    return PurePath(ref).stem or ref


def parse_markdown(text: str, ref: str, *, origin_kind: str = "markdown") -> Document:
    """One Markdown or text file as one Document; raises LoadError when it cannot be."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    fields, raw_body = split_front_matter(text)
    body = clean_body(raw_body)
    if not body:
        raise LoadError("no text after the front matter" if fields else "empty file")
    try:
        published = parse_date(fields.get("date"))
    except ValueError as exc:
        raise LoadError(str(exc)) from None
    return Document(
        text=body,
        title=fields.get("title") or _first_heading(raw_body) or ref_stem(ref),
        url=fields.get("url") or None,
        source=fields.get("source", ""),
        author=fields.get("author") or None,
        published=published,
        lang=fields.get("lang") or None,
        origin_kind=origin_kind,
        origin_ref=ref,
        ext_id=fields.get("id") or None,
        meta={k: v for k, v in fields.items() if k not in FRONT_MATTER_KEYS},
    )


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split `---` front matter from the body; no front matter gives ({}, text).

    Only flat `key: value` lines are understood (no YAML library): nested or multi-line
    values make the front matter broken, which is reported rather than guessed at.
    """
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        raise LoadError("broken front matter: no closing '---' line") from None
    fields = {}
    for number, line in enumerate(lines[1:end], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _KEY_VALUE_RE.match(line)
        if not match:
            raise LoadError(f"broken front matter: line {number} is not 'key: value'")
        fields[match.group(1).lower()] = _unquote(match.group(2).strip())
    return fields, "\n".join(lines[end + 1 :])


def clean_body(body: str) -> str:
    """Keep paragraphs, drop heading markers, trailing spaces and runs of blank lines."""
    lines = []
    for line in body.split("\n"):
        heading = _heading(line)
        lines.append(heading[1] if heading else line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _heading(line: str) -> tuple[int, str] | None:
    """(level, text) of an ATX heading line such as "## Supply roads ##"; None otherwise."""
    opening = _HEADING_OPEN_RE.match(line)
    if not opening:
        return None
    # The text without the spaces around it and without a closing run of "#".
    text = line[opening.end() :].strip().rstrip("#").rstrip()
    return len(opening.group(1)), text


def _first_heading(body: str) -> str | None:
    """The first level-1 heading of the body."""
    for line in body.split("\n"):
        heading = _heading(line)
        if heading and heading[0] == 1 and heading[1]:
            return heading[1]
    return None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value
