"""Small text tools every layer shares: folding, word and name patterns, trie regexes.

One copy of each, so that the gazetteer, the lexical index and alert matching read a word
the same way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

APOSTROPHES = "'’‘ʼʹ`´"
_UNIFY = str.maketrans(dict.fromkeys(APOSTROPHES[1:], "'") | {"ё": "е"})
_COMBINING = re.compile(r"[\u0300-\u036f]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

WORD_RE = re.compile(r"[^\W_]+")
"""A run of letters and digits: the word of the lexical index, the gazetteer and alerts."""
CYRILLIC_RE = re.compile("[\u0400-\u04ff]")
NAME_RE = re.compile(r"\b[A-ZА-ЯІЇЄҐЁ][\w'’]*\w")
"""A capitalised word (Latin or Cyrillic), apostrophes inside: a name candidate."""
DASH_GAP = r"(?:\s+|\s*[-‐‑‒–—―]\s*)"
"""What may stand between two words of a name: spaces or a dash of any kind."""
WORD_START = r"(?<![^\W_])"
WORD_END = r"(?![^\W_])"
REASON_LIMIT = 200  # characters of a library's message kept in an error reason


def without_surrogates(text: str) -> str:
    """Text safe to encode: lone surrogates become U+FFFD.

    They arrive from JSON (which allows them) and from undecodable bytes in command-line
    arguments or a terminal (Python keeps those as surrogates); tokenizers, SQLite and
    Telegram all refuse them.
    """
    return _LONE_SURROGATE.sub("\ufffd", text)


# Letters that draw nothing: fillers and the blank braille cell, used to fake empty names.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Categories that draw nothing on their own: controls, format characters (zero-width space,
# word joiner, BOM, bidi marks), separators, unassigned and private code points, and
# combining marks (which need a letter to sit on).
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})


def has_visible_text(text: str) -> bool:
    """Whether anything in `text` would show: a text of only invisible characters is empty."""
    return any(
        ch not in _BLANK_LETTERS and unicodedata.category(ch) not in _INVISIBLE for ch in text
    )


def fold(text: str) -> str:
    """Lower case with ё as е and one apostrophe, the same length as `text`.

    Offsets found in the folded text are offsets in the original, which is what matching
    place names and keywords needs to quote and highlight.
    """
    low = text.lower()
    if len(low) != len(text):  # a few letters (İ) lower-case to two characters: keep them
        low = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)
    return low.translate(_UNIFY)


def fold_diacritics(text: str) -> str:
    """`fold`, then without diacritics (й as и): how the lexical index reads words.

    The same as SQLite FTS5's `unicode61 remove_diacritics 2` tokenizer, so BM25 scores from
    the in-memory index equal FTS5's. The length may change.
    """
    low = fold(text)
    if low.isascii():
        return low
    return _COMBINING.sub("", unicodedata.normalize("NFD", low)).lower()


def trie_regex(entries: Iterable[tuple[Sequence[str], str]]) -> str:
    """One pattern for many alternatives that share beginnings, shaped as a trie.

    Each entry is (units, tail): `units` are regex pieces matched in order (usually one
    escaped character each), `tail` a regex that may end the match there ('' for none).
    A long alternation of names compiles to a trie that the regex engine walks once per
    position instead of trying every name in turn.
    """
    end = "\x00"
    root: dict[str, Any] = {}
    for units, tail in entries:
        node = root
        for unit in units:
            node = node.setdefault(unit, {})
        node.setdefault(end, set()).add(tail)

    def emit(node: dict[str, Any]) -> str:
        branches = [unit + emit(child) for unit, child in sorted(node.items()) if unit != end]
        branches.extend(sorted(node.get(end, ())))
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(root) if root else "(?!)"


def literal_units(text: str) -> list[str]:
    """`text` as trie units: one escaped character each."""
    return [re.escape(ch) for ch in text]


def format_size(n_bytes: float) -> str:
    """Sizes as people read them: "25.3 MB", "4.1 kB", "512 bytes"."""
    if n_bytes >= 1_000_000:
        return f"{n_bytes / 1_000_000:.1f} MB"
    if n_bytes >= 1_000:
        return f"{n_bytes / 1_000:.1f} kB"
    return f"{int(n_bytes)} bytes"


def one_line(text: str, limit: int = REASON_LIMIT) -> str:
    """Squash a library's message into one short line for an error reason."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
