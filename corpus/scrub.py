"""Cleaning scraped page text before it is stored: what a reader of the report never reads.

Scraped pages carry link lists, share buttons, menus, cookie banners, footnote lists and
inline footnote markers (``[[lxiv]](https://...)``); such passages rank on shared words and
get quoted. `scrub` drops those lines and markers and leaves the prose alone.

Every pattern here is linear: no quantified group contains another quantifier over an
overlapping class, and every run is bounded, so a page of 200,000 spaces or brackets costs
the same as a page of prose (tests/test_scrub.py runs such pages).
"""

from __future__ import annotations

import re

LINK_RE = re.compile(r"!?\[[^\[\]\n]{0,500}\]\([^()\s]{0,2000}\)|https?://[^\s)\]]{1,2000}")
# ISW-style footnote markers, "[[lxiv]](https://...)" or "[77]" after a word or stop.
FOOTNOTE_RE = re.compile(r"\[\[[^\[\]\s]{1,12}\]\]\([^()\s]{0,2000}\)|(?<=[\w.,;:)”\"])\[\d{1,3}\]")
SHARE_RE = re.compile(
    r"twitter\.com/(?:intent|share)|x\.com/intent|facebook\.com/sharer|linkedin\.com/share|"
    r"t\.me/share|wa\.me/|reddit\.com/submit|pinterest\.com/pin/create|mailto:\?",
    re.IGNORECASE,
)
BOILERPLATE_RE = re.compile(
    r"^(?:age verification|this website uses cookies|we use cookies|accept (?:all )?cookies|"
    r"cookie (?:policy|settings|consent)|consent|manage (?:preferences|consent)|"
    r"subscribe\b|sign up\b|log ?in\b|register\b|all rights reserved|©|\(c\) ?\d{4}|"
    r"follow [^\n]{0,60} on google news|add [^\n]{0,40} on google|advertisement|"
    r"skip to (?:main )?content|read more|related (?:news|articles|stories)|"
    r"click here to share|share (?:this|on|via)\b|tweet\b|donate\b|support us\b|"
    r"published on \d{1,2} \w{3,9} \d{4}$|privacy policy|terms of (?:use|service))",
    re.IGNORECASE,
)
REFERENCES_HEADING_RE = re.compile(
    r"^[#*\s]{0,8}(?:references|notes|footnotes|endnotes|sources|citations)[:*\s]{0,4}$",
    re.IGNORECASE,
)
REFERENCE_LINE_RE = re.compile(r"^\s{0,8}(?:\[\[?[0-9ivxlcdm]{1,10}\]?\]|\^|\d{1,3}[.)]\s)", re.I)
WORD_RE = re.compile(r"[^\W\d_]{2,}")
SENTENCE_END_RE = re.compile(r"[.!?:;…]['\"”’)]{0,2}\s{0,4}$")
BOILERPLATE_MAX_WORDS = 12  # a longer line is prose that happens to start like a banner
MENU_RUN = 5  # this many short lines in a row, without a full stop, are a menu or a ticker
MENU_LINE_WORDS = 4


def _link_only(line: str) -> bool:
    """A line that is links and little else: a link list, a "related" item, a share bar."""
    if not LINK_RE.search(line):
        return False
    rest = LINK_RE.sub(" ", line)
    return len(WORD_RE.findall(rest)) <= 2


def _drop_line(line: str) -> bool:
    stripped = line.strip(" \t-*•#>|")
    if not stripped:
        return False
    if SHARE_RE.search(line) or _link_only(line):
        return True
    short = len(stripped.split()) <= BOILERPLATE_MAX_WORDS
    return short and bool(BOILERPLATE_RE.match(stripped))


def _is_menu_line(line: str) -> bool:
    words = line.split()
    return 0 < len(words) <= MENU_LINE_WORDS and not SENTENCE_END_RE.search(line)


def _without_menus(lines: list[str]) -> list[str]:
    """Drop runs of MENU_RUN or more short unpunctuated lines (navigation, tickers)."""
    kept: list[str] = []
    run: list[str] = []
    for line in [*lines, ""]:
        if _is_menu_line(line):
            run.append(line)
            continue
        if len(run) < MENU_RUN:
            kept.extend(run)
        run = []
        kept.append(line)
    return kept[:-1]


def _without_references(lines: list[str]) -> list[str]:
    """Drop a references/notes section: its heading and the reference lines after it."""
    kept: list[str] = []
    in_refs = False
    for line in lines:
        if REFERENCES_HEADING_RE.match(line):
            in_refs = True
            continue
        if in_refs and (not line.strip() or REFERENCE_LINE_RE.match(line) or LINK_RE.search(line)):
            continue
        in_refs = False
        if REFERENCE_LINE_RE.match(line) and LINK_RE.search(line) and _link_only(line):
            continue
        kept.append(line)
    return kept


def strip_footnotes(text: str) -> str:
    """Text without inline footnote markers; everything else as it was."""
    return FOOTNOTE_RE.sub("", text)


def scrub(text: str) -> str:
    """The page without link-only lines, share links, banners, menus and footnotes."""
    lines = strip_footnotes(text).split("\n")
    lines = [line for line in _without_references(lines) if not _drop_line(line)]
    cleaned = "\n".join(_without_menus(lines))
    return re.sub(r"\n{3,}", "\n\n", cleaned).strip()


def mostly_links(text: str) -> bool:
    """More than half of the text's characters are links (a measure of scraping noise)."""
    linked = sum(len(m.group(0)) for m in LINK_RE.finditer(text))
    return linked > 0.5 * max(1, len(text.strip()))
