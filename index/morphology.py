"""Ukrainian and Russian words in their dictionary form, so inflections meet.

"штурмових дій" and "штурмові дії" both read "штурмовий дія"; "Мирнограді" and
"Мирноградом" read "мирноград". The lexical index, questions and alert topics all go
through `lemma`, so a word is read the same way everywhere.

pymorphy3 with its Ukrainian and Russian dictionaries does the work (docs/benchmarks.md has
the measurement that chose it over Snowball's Russian stemmer, which leaves Ukrainian
inflections apart). A word the dictionary of its text's language knows takes that
language's lemma; otherwise the other language's, when that one knows it; a word neither
knows (many place and person names) stays as written: the gazetteer and prefix matching
handle those. Parsing costs a few hundred microseconds a word, so each distinct word is
parsed once per process.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

UK_LETTERS = re.compile(r"[іїєґ]")
RU_LETTERS = re.compile(r"[ыэъё]")
CYRILLIC_WORD = re.compile(r"^[а-яіїєґё'’-]+$")
CACHE_WORDS = 500_000  # distinct words remembered: about 100 MB at the limit
_lock = threading.Lock()


@lru_cache(maxsize=2)
def _analyzer(language: str) -> Any:
    """pymorphy3's analyser for 'uk' or 'ru', loaded once (about 0.3 s each)."""
    import pymorphy3

    with _lock:
        return pymorphy3.MorphAnalyzer(lang=language)


def _order(word: str, language: str) -> tuple[str, ...]:
    """Which dictionaries to ask, first the one the word's own letters or text point to."""
    if UK_LETTERS.search(word):
        return ("uk",)
    if RU_LETTERS.search(word):
        return ("ru",)
    return ("ru", "uk") if language == "ru" else ("uk", "ru")


@lru_cache(maxsize=CACHE_WORDS)
def lemma(word: str, language: str = "uk") -> str:
    """The dictionary form of a lower-case Cyrillic word; other words come back unchanged."""
    if len(word) < 3 or not CYRILLIC_WORD.match(word):
        return word
    for lang in _order(word, language):
        analyzer = _analyzer(lang)
        if analyzer.word_is_known(word):
            return str(analyzer.parse(word)[0].normal_form).replace("ё", "е")
    return word


def text_language(text: str) -> str:
    """'uk' or 'ru' for a Cyrillic text by the letters only one of them has ('uk' on a tie:
    most reports we hold are Ukrainian)."""
    ru = len(RU_LETTERS.findall(text))
    return "ru" if ru > len(UK_LETTERS.findall(text)) else "uk"
