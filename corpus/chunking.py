"""Sentence-aware chunking that keeps character offsets into the document text.

A chunk is a run of whole sentences of roughly 120–250 words; consecutive chunks share their
last/first sentence (a small overlap) so a fact on a boundary is found from either side. Every
chunk's text is exactly `text[start:end]`, so an answer can quote the passage it cites.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sectorbot.corpus.models import Chunk

TARGET_WORDS = 200
MAX_WORDS = 250
MIN_WORDS = 120
OVERLAP_WORDS = 40

# Words whose trailing full stop does not end a sentence (English, Ukrainian, Russian).
ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "st", "gen", "lt", "col", "maj", "capt", "sgt", "prof", "no",
    "vs", "etc", "e.g", "i.e", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec", "u.s", "u.k", "approx", "km", "ca", "fig",
    "м", "с", "смт", "вул", "ген", "р", "рр", "ст", "т", "д", "п", "ім", "див", "обл", "г",
    "ул", "им", "тыс", "млн", "млрд", "км",
}  # fmt: skip

# The lookbehind lets a run of end marks ("?!..." or a line of dots) be tried from its first
# mark only: tried from each mark in turn, a long run without a space after it took time
# growing with the square of its length (40,000 dots: 26 s).
_SENTENCE_END = re.compile(r"(?<![.!?…])[.!?…]+[\"'»”)\]]*\s+|\n\s*\n+|\n(?=\s*[-*•#\d])")
_WORD = re.compile(r"\w+(?:[-'’]\w+)*")


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the full stop at `end` closes a known abbreviation or an initial."""
    m = re.search(r"([\w.]+)\.$", text[max(0, end - 12) : end + 1])
    if not m:
        return False
    word = m.group(1).lower()
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha() and text[end - 1].isupper())


def sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each sentence, whitespace trimmed, end exclusive."""
    start = 0
    for m in _SENTENCE_END.finditer(text):
        punct_end = m.start() + len(m.group(0).rstrip())
        if m.group(0)[0] == "." and _is_abbreviation(text, m.start()):
            continue
        yield from _trimmed(text, start, punct_end)
        start = m.end()
    yield from _trimmed(text, start, len(text))


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def _split_long(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Cut a sentence longer than MAX_WORDS at word boundaries."""
    words = list(_WORD.finditer(text, start, end))
    for i in range(0, len(words), TARGET_WORDS):
        group = words[i : i + TARGET_WORDS]
        piece_end = end if i + TARGET_WORDS >= len(words) else words[i + TARGET_WORDS].start()
        yield from _trimmed(text, group[0].start() if i else start, piece_end)


def chunk_text(text: str) -> list[Chunk]:
    """Split a document into overlapping sentence-aligned chunks with exact offsets."""
    spans: list[tuple[int, int, int]] = []
    for s, e in sentence_spans(text):
        n = word_count(text[s:e])
        if n > MAX_WORDS:
            spans.extend((ps, pe, word_count(text[ps:pe])) for ps, pe in _split_long(text, s, e))
        else:
            spans.append((s, e, n))
    # Words from each span to the end, so that the tail of every chunk is counted at once
    # rather than summed again for each chunk (which grew with the square of the length).
    words_after = [0] * (len(spans) + 1)
    for k in range(len(spans) - 1, -1, -1):
        words_after[k] = words_after[k + 1] + spans[k][2]
    chunks: list[Chunk] = []
    i = 0
    while i < len(spans):
        j, words = i, 0
        while j < len(spans) and (words < TARGET_WORDS or j == i):
            if j > i and words + spans[j][2] > MAX_WORDS:
                break
            words += spans[j][2]
            j += 1
        rest = words_after[j]
        if 0 < rest < MIN_WORDS // 2 and words + rest <= MAX_WORDS + MIN_WORDS // 2:
            j = len(spans)  # fold a short tail into this chunk rather than leave a scrap
        start, end = spans[i][0], spans[j - 1][1]
        chunks.append(Chunk(len(chunks), start, end, text[start:end]))
        if j >= len(spans):
            break
        i = _overlap_start(spans, i, j)
    return chunks


def _overlap_start(spans: list[tuple[int, int, int]], i: int, j: int) -> int:
    """Where the next chunk starts: the last sentence(s) of this one, up to OVERLAP_WORDS."""
    k, words = j, 0
    while k - 1 > i and words + spans[k - 1][2] <= OVERLAP_WORDS:
        k -= 1
        words += spans[k][2]
    return k if k < j else j
