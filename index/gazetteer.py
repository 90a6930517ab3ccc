"""Gazetteer of the Pokrovsk sector: place records and a multilingual place-name matcher.

The records live in ``places.json`` next to this module and are loaded once per process
(:meth:`Gazetteer.default`). Each record has an English name, Ukrainian and Russian spellings,
transliteration aliases and former names. :meth:`Gazetteer.find` locates them in free text.

Matching rules
--------------
* **Words.** A name matches whole words only (runs of letters and digits): nothing matches
  inside a longer word, so ``Avdiivkaxyz`` and ``Pokrovskyi`` contain no match. Multi-word
  names match across whitespace or a single dash (``Chasiv Yar``, ``Chasiv-Yar``).
* **Normalisation.** Case-insensitive for Latin and Cyrillic; an apostrophe inside a word in
  any of the variants ``' ’ ‘ ʼ ʹ ` ´`` is ignored, so ``Pokrovs’k`` and ``Словʼянськ`` equal
  ``Pokrovsk`` and ``Слов'янськ``; stress marks are dropped and ``ё`` equals ``е``. Text is
  expected in NFC form (as web and Telegram text is).
* **English possessive.** ``Pokrovsk's`` matches; the reported surface is ``Pokrovsk``.
* **Cyrillic inflection.** Every Cyrillic spelling is expanded at load time into its case
  forms with a small ending table chosen by the word's final letters (``-ськ``: Покровська,
  Покровську, Покровськом; ``-ск``: Красноармейска, Красноармейске; ``-е``: Селидового,
  Селидовому; ``-о``: Курахова, Курахове; ``-ка``: Авдіївки, Авдіївці, Авдіївкою, Авдеевке;
  ``-я``/``-ье``: Добропіллі, Доброполья; consonants: Мирнограда, Мирнограді, Мирноградом).
  Only these generated forms match, never a bare stem, so unrelated words that share a
  prefix stay unmatched: ``Покрова`` (the feast day), ``Покровка`` and ``Покровське`` (other
  villages) are not Pokrovsk. Latin spellings are not inflected.
* **Pokrovsk adjectives.** The adjective alone (``Pokrovskyi``, ``Покровський``) does not match;
  the fixed phrases "Pokrovsk(yi) raion/district/direction" and their Cyrillic case forms
  (``Покровському напрямку``, ``Покровском направлении``, ``Покровського району``) are
  treated as naming Pokrovsk, because that is what sector reports mean by them.
  ``Pokrovsk Raion`` needs no special rule: its first word is the city name.
* **Longest match wins.** Matching scans left to right and takes the longest name starting at
  each word, so ``Velyka Novosilka`` is one match and ``Avdiivka Coke Plant`` is the plant,
  not the town. Matches never overlap.
* **Ambiguous places.** Entries with ``"ambiguous": true`` (common words or very common place
  names: Prohres, Shevchenko, Zelene, Ukrainsk, Hirnyk, ...) match only when the surface
  starts with a capital letter, in Latin or Cyrillic: ``Shevchenko`` matches, ``shevchenko``
  does not.
* **Spellings that need context.** Spellings listed in an entry's ``needs_context`` are common
  words or surnames (``Progress``, ``Прогрес``, ``Удачное``, ``Зелене``, ``Dimitrov``). They
  must be capitalised *and* have context: another place matched within
  :data:`CONTEXT_WINDOW` words, or a settlement word (village, settlement, село, селище,
  посёлок, ...) within :data:`KEYWORD_WINDOW` words. "Progress was slow" matches nothing;
  "the village of Progress" and "Ocheretyne and Progress" match Prohres.
* **Adjective clashes.** A few case forms are also everyday adjectives (``українська``,
  ``слов'янська``: "Ukrainian", "Slavic"). They match only capitalised *and* right after a
  preposition (``біля Українська``, ``до Слов'янська``) or near a settlement word, so the
  outlet "Українська правда" is not the town of Ukrainsk.
* **Donetsk Oblast.** ``Donetsk`` directly followed by an oblast word (Oblast, region,
  People's, область, обл., ОВА, народна ...) names the oblast or the "republic", not the city,
  and is skipped.
* **Speed.** All spellings and case forms are compiled at load into one regular expression
  shaped as a character trie, run over a lower-cased copy of the text; the rules above are
  then checked in Python for the few hits. A 2,000-word report takes about a millisecond.
* **Shared spellings.** When two records share a spelling, the record listed first in
  ``places.json`` owns it (plain "Shevchenko" is the lithium village; the settlement south of
  Pokrovsk is reachable by id). :attr:`Gazetteer.collisions` lists such spellings.
"""

from __future__ import annotations

import itertools
import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sectorbot.corpus.text import (
    APOSTROPHES,
    CYRILLIC_RE,
    DASH_GAP,
    WORD_END,
    WORD_RE,
    WORD_START,
    fold,
    literal_units,
    trie_regex,
)

__all__ = [
    "CONTEXT_WINDOW",
    "KEYWORD_WINDOW",
    "Gazetteer",
    "Place",
    "PlaceMatch",
    "all_places",
    "by_id",
    "expand_query",
    "find",
    "place_ids",
    "resolve",
]

DATA_PATH = Path(__file__).with_name("places.json")
KINDS = frozenset({"city", "town", "village", "landmark", "road"})

CONTEXT_WINDOW = 20
"""Words on either side within which another place supports a context-needing spelling."""
KEYWORD_WINDOW = 3
"""Words on either side within which a settlement word supports a context-needing spelling."""

# Applied after lower-casing: one apostrophe for all variants, е for ё (keeps the length).
_MARK_RE = re.compile("['\u0300\u0301]")
_NEXT_WORD_RE = re.compile(r"\s+([^\W_]+)(?:'(s)(?![^\W_]))?")
_POSSESSIVE_RE = re.compile(rf"[{APOSTROPHES}][sS]$")
_SPAN_LIMIT = 1000  # characters counted between a hit and an anchor place
_NEAR_LIMIT = 160  # characters scanned on each side of a hit for nearby words
_FAR = 1 << 30

_SETTLEMENT_WORDS = frozenset(
    {
        "village",
        "villages",
        "settlement",
        "settlements",
        "town",
        "hamlet",
        "locality",
        "selo",
        "село",
        "села",
        "селі",
        "селом",
        "селище",
        "селища",
        "селищі",
        "селищем",
        "поселок",
        "поселка",
        "поселке",
        "поселком",
        "деревня",
        "деревни",
        "деревне",
        "смт",
        "пгт",
        "населений",
        "населеного",
        "населеному",
        "населенный",
        "населенного",
        "населенном",
    }
)
_OBLAST_WORDS = frozenset(
    {
        "oblast",
        "oblasts",
        "region",
        "regions",
        "province",
        "peoples",
        "область",
        "області",
        "областю",
        "обл",
        "области",
        "областью",
        "ова",
        "ода",
        "народна",
        "народної",
        "народній",
        "народну",
        "народная",
        "народной",
        "народную",
    }
)
_OBLAST_NAMESAKES = frozenset({"donetsk"})
_ADJECTIVE_CLASHES = frozenset({"українська", "українську", "словянська", "словянську"})
_PREPOSITIONS = frozenset(
    {
        "у",
        "в",
        "во",
        "до",
        "з",
        "із",
        "зі",
        "из",
        "від",
        "от",
        "біля",
        "поблизу",
        "возле",
        "около",
        "близ",
        "під",
        "под",
        "через",
        "за",
        "між",
        "между",
        "навколо",
        "довкола",
        "вокруг",
    }
)

# Phrases built on the Pokrovsk adjective that sector reports use for the city's area.
_PHRASES: Mapping[str, tuple[str, ...]] = {
    "pokrovsk": (
        "Pokrovskyi raion",
        "Pokrovskyi district",
        "Pokrovsky district",
        "Pokrovskyi direction",
        "Pokrovsky direction",
        "Покровський район",
        "Покровський напрямок",
        "Покровский район",
        "Покровское направление",
    ),
}


@dataclass(frozen=True)
class Place:
    """One gazetteer record: a settlement, landmark or road of the sector."""

    id: str
    name: str
    kind: str
    uk: str
    ru: str
    aliases: tuple[str, ...]
    former: tuple[str, ...]
    lat: float
    lon: float
    ambiguous: bool = False
    needs_context: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Place:
        """Build a record from one ``places.json`` object, checking its shape."""
        for key in ("id", "name", "kind", "uk", "ru"):
            if not isinstance(data.get(key), str) or not data[key].strip():
                raise ValueError(f"place {data.get('id')!r}: {key!r} must be a non-empty string")
        if data["kind"] not in KINDS:
            raise ValueError(f"place {data['id']!r}: unknown kind {data['kind']!r}")
        return cls(
            id=data["id"],
            name=data["name"],
            kind=data["kind"],
            uk=data["uk"],
            ru=data["ru"],
            aliases=tuple(data.get("aliases", ())),
            former=tuple(data.get("former", ())),
            lat=float(data["lat"]),
            lon=float(data["lon"]),
            ambiguous=bool(data.get("ambiguous", False)),
            needs_context=tuple(data.get("needs_context", ())),
        )

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every written form of the record: name, uk, ru, aliases and former names."""
        return tuple(dict.fromkeys((self.name, self.uk, self.ru, *self.aliases, *self.former)))


@dataclass(frozen=True)
class PlaceMatch:
    """A place found in a text; ``text[start:end] == surface``."""

    place: Place
    start: int
    end: int
    surface: str


@dataclass(frozen=True)
class _Surface:
    place: int
    needs_context: bool


@dataclass(frozen=True)
class _Candidate:
    place: int
    start: int  # offsets into the normalised text
    end: int
    needs_context: bool


def _add(forms: set[str], stem: str, endings: Iterable[str]) -> None:
    forms.update(stem + ending for ending in endings)


def _word_forms(word: str, in_phrase: bool) -> set[str]:
    """Case forms of one normalised Cyrillic word, by an ending table (see module doc)."""
    forms = {word}
    if len(word) < (2 if in_phrase else 4) or not CYRILLIC_RE.search(word):
        return forms
    if word.endswith("ая"):  # ru feminine adjective: Великая
        _add(forms, word[:-2], ("ая", "ой", "ую", "ою"))
    elif word.endswith("ое"):  # ru neuter adjective: Удачное
        _add(forms, word[:-2], ("ое", "ого", "ому", "ым", "ом"))
    elif word.endswith(("ий", "ый")):  # adjective in phrases: Покровський
        _add(forms, word[:-2], ("ий", "ый", "ого", "ому", "им", "ым", "ім", "ом"))
    elif word.endswith("ие"):  # ru neuter noun: направление
        _add(forms, word[:-2], ("ие", "ия", "ию", "ием", "ии"))
    elif word.endswith(("ье", "ья")):  # ru: Доброполье
        _add(forms, word[:-2], ("ье", "ья", "ью", "ьем"))
    elif word.endswith("я"):  # uk: Добропілля, шахтоуправління
        _add(forms, word[:-1], ("я", "ю", "ям", "і"))
    elif word.endswith("ка"):  # Авдіївка / Авдеевка, and the adjective Велика
        _add(forms, word[:-2], ("ка", "ки", "ці", "ку", "кою", "ке", "кой", "кої", "кій"))
    elif word.endswith("а"):  # Межова, траса
        _add(forms, word[:-1], ("а", "и", "і", "у", "ою", "ої", "ій", "е", "ой", "ы", "ую"))
    elif word.endswith("е"):  # uk neuter adjective: Селидове; nouns too inside phrases
        endings = ["е", "ого", "ому", "им", "ім"]
        if in_phrase:
            endings += ["а", "у", "ем", "і"]
        _add(forms, word[:-1], endings)
    elif word.endswith("о"):  # ru -ово/-ино: Курахово
        _add(forms, word[:-1], ("о", "а", "у", "ом", "е"))
    elif word.endswith(("ськ", "цьк")):  # uk: Покровськ
        _add(forms, word, ("", "а", "у", "ом"))
    elif word.endswith(("ск", "цк")):  # ru: Красноармейск
        _add(forms, word, ("", "а", "у", "ом", "е"))
    elif word[-1] not in "аеєиіїоуюяыэйь":  # other consonant endings: Мирноград, Яр
        _add(forms, word, ("", "а", "у", "ом", "і", "е", "ым"))
        if word.endswith("ів"):  # Димитрів -> Димитрова, Часів -> Часового
            _add(forms, word[:-2] + "ов", ("а", "у", "ом", "і", "е", "ого", "ому", "им", "ім"))
        if word.endswith("ок"):  # напрямок -> напрямку
            _add(forms, word[:-2] + "к", ("у", "а", "ом"))
    return forms


class _Normalised:
    """A text lower-cased, without in-word apostrophes and stress marks, mapped back to the
    original offsets."""

    def __init__(self, text: str) -> None:
        low = fold(text)
        self.dropped: list[int] = []
        if _MARK_RE.search(low):
            keep: list[str] = []
            last = 0
            for m in _MARK_RE.finditer(low):
                i = m.start()
                if low[i] == "'" and not _inner_apostrophe(low, i):
                    continue
                keep.append(low[last:i])
                self.dropped.append(i - len(self.dropped))
                last = i + 1
            keep.append(low[last:])
            low = "".join(keep)
        self.text = low

    def original(self, pos: int) -> int:
        """Offset in the original text of the character at ``pos``."""
        return pos + bisect_right(self.dropped, pos) if self.dropped else pos

    def words_before(self, pos: int, count: int) -> list[str]:
        """Up to ``count`` words ending before ``pos``."""
        return WORD_RE.findall(self.text, max(0, pos - _NEAR_LIMIT), pos)[-count:]

    def words_after(self, pos: int, count: int) -> list[str]:
        """Up to ``count`` words starting at or after ``pos``."""
        return WORD_RE.findall(self.text, pos, pos + _NEAR_LIMIT)[:count]

    def words_between(self, start: int, end: int) -> int:
        """How many words lie in ``[start, end)``; far spans count as :data:`_FAR`."""
        if end - start > _SPAN_LIMIT:
            return _FAR
        return len(WORD_RE.findall(self.text, start, end))


def _inner_apostrophe(low: str, i: int) -> bool:
    """An apostrophe between two letters, other than the one of an English ``'s``."""
    if i == 0 or i + 1 >= len(low) or not low[i - 1].isalnum() or not low[i + 1].isalnum():
        return False
    return not (low[i + 1] == "s" and (i + 2 == len(low) or not low[i + 2].isalnum()))


def _words(text: str) -> list[str]:
    """Normalised words of a spelling or a query."""
    return WORD_RE.findall(_Normalised(text).text)


def _surface_keys(spelling: str) -> set[tuple[str, ...]]:
    """All lookup keys (tuples of normalised words) generated from one spelling."""
    words = _words(spelling)
    if not words:
        return set()
    if not any(CYRILLIC_RE.search(w) for w in words):
        return {tuple(words)}
    in_phrase = len(words) > 1
    options = [sorted(_word_forms(w, in_phrase)) for w in words]
    return set(itertools.product(*options))


def _names_regex(keys: Iterable[tuple[str, ...]]) -> str:
    """One regular expression matching every key (a tuple of words), as a trie of characters."""
    entries = []
    for key in keys:
        units = literal_units(key[0])
        for word in key[1:]:
            units += [DASH_GAP, *literal_units(word)]
        entries.append((units, ""))
    return WORD_START + trie_regex(entries) + WORD_END


class Gazetteer:
    """Place records plus an index of every spelling, for matching names in text."""

    def __init__(self, places: Sequence[Place]) -> None:
        self._places: tuple[Place, ...] = tuple(places)
        self._by_id: dict[str, Place] = {}
        for place in self._places:
            if place.id in self._by_id:
                raise ValueError(f"duplicate place id {place.id!r}")
            self._by_id[place.id] = place
        self._keys: dict[tuple[str, ...], _Surface] = {}
        self.collisions: dict[str, tuple[str, ...]] = {}
        """Spellings shared by several records (joined words -> ids, owner first)."""
        self._build_index()
        self._pattern = re.compile(_names_regex(self._keys))

    def _build_index(self) -> None:
        owners: dict[tuple[str, ...], list[str]] = {}
        # Spellings as written claim their keys before generated case forms, so a case
        # form of one place never hides another place's own name.
        for inflected in (False, True):
            for index, place in enumerate(self._places):
                contextual = {k for s in place.needs_context for k in _surface_keys(s)}
                for spelling in (*place.spellings, *_PHRASES.get(place.id, ())):
                    base = tuple(_words(spelling))
                    if not base:
                        continue
                    for key in _surface_keys(spelling) if inflected else (base,):
                        ids = owners.setdefault(key, [])
                        if place.id not in ids:
                            ids.append(place.id)
                        if key not in self._keys:
                            self._keys[key] = _Surface(index, key in contextual)
        self.collisions = {" ".join(key): tuple(ids) for key, ids in owners.items() if len(ids) > 1}

    @classmethod
    def from_json(cls, path: Path | str) -> Gazetteer:
        """Load records from a JSON list shaped like ``places.json``."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list of places")
        return cls([Place.from_dict(item) for item in data])

    @classmethod
    def default(cls) -> Gazetteer:
        """The gazetteer of ``places.json``, built once per process."""
        return _default_gazetteer()

    # -- lookups ---------------------------------------------------------------------------

    def all(self) -> list[Place]:
        """Every record, in file order."""
        return list(self._places)

    def by_id(self, place_id: str) -> Place:
        """The record with this id; raises ``KeyError`` for an unknown id."""
        try:
            return self._by_id[place_id]
        except KeyError:
            raise KeyError(f"unknown place id {place_id!r}") from None

    def resolve(self, name: str) -> Place | None:
        """The record a single name refers to, in any spelling or case form, or ``None``.

        Meant for explicit user input (``/subscribe Мирноград``): the capitalisation and
        context rules of :meth:`find` do not apply. An id (``chasiv-yar``) also resolves.
        """
        stripped = name.strip()
        if stripped in self._by_id:
            return self._by_id[stripped]
        for candidate in dict.fromkeys((stripped, _POSSESSIVE_RE.sub("", stripped))):
            surface = self._keys.get(tuple(_words(candidate)))
            if surface is not None:
                return self._places[surface.place]
        return None

    # -- matching --------------------------------------------------------------------------

    def find(self, text: str) -> list[PlaceMatch]:
        """Places named in ``text``, left to right, never overlapping (see module doc)."""
        norm = _Normalised(text)
        candidates: list[_Candidate] = []
        search = self._pattern.search
        pos = 0
        while (m := search(norm.text, pos)) is not None:
            found = self._accept(text, norm, m.start(), m.group())
            if found is None:
                pos = m.start() + 1
            else:
                candidates.append(found)
                pos = found.end
        if any(c.needs_context for c in candidates):
            candidates = _with_context(candidates, norm)
        matches = []
        for cand in candidates:
            start, end = norm.original(cand.start), norm.original(cand.end - 1) + 1
            matches.append(PlaceMatch(self._places[cand.place], start, end, text[start:end]))
        return matches

    def _accept(self, text: str, norm: _Normalised, start: int, hit: str) -> _Candidate | None:
        """The longest acceptable name at ``start``: the regex hit or one of its prefixes."""
        if hit.isalnum():  # the common case: a one-word name
            spans = [(hit, len(hit))]
        else:
            spans = [(m.group(), m.end()) for m in WORD_RE.finditer(hit)]
        capital = text[norm.original(start)].isupper()
        for length in range(len(spans), 0, -1):
            key = tuple(word for word, _ in spans[:length])
            surface = self._keys.get(key)
            if surface is None:
                continue
            end = start + spans[length - 1][1]
            place = self._places[surface.place]
            if (place.ambiguous or surface.needs_context) and not capital:
                continue
            clash = len(key) == 1 and key[0] in _ADJECTIVE_CLASHES
            if clash and not (capital and _used_as_place(norm, start, end)):
                continue
            if place.id in _OBLAST_NAMESAKES and _names_region(norm, end):
                continue
            return _Candidate(surface.place, start, end, surface.needs_context)
        return None

    def place_ids(self, text: str) -> set[str]:
        """Ids of the places named in ``text``."""
        return {m.place.id for m in self.find(text)}

    def expand_query(self, text: str) -> str:
        """Extra search terms for the places in ``text``: all their other spellings.

        For each place found, its English name, Ukrainian and Russian spellings, aliases and
        former names, without duplicates and without the spellings already in the text, so
        a lexical search for ``Красноармейск`` also reaches "Pokrovsk" text and vice versa.
        """
        matches = self.find(text)
        seen = {tuple(_words(m.surface)) for m in matches}
        terms: list[str] = []
        for place_id in dict.fromkeys(m.place.id for m in matches):
            for spelling in self._by_id[place_id].spellings:
                key = tuple(_words(spelling))
                if key and key not in seen:
                    seen.add(key)
                    terms.append(spelling)
        return " ".join(terms)


def _names_region(norm: _Normalised, end: int) -> bool:
    """Whether an oblast word directly follows the name ending at ``end``."""
    nxt = _NEXT_WORD_RE.match(norm.text, end)
    return nxt is not None and nxt.group(1) + (nxt.group(2) or "") in _OBLAST_WORDS


def _near_keyword(norm: _Normalised, start: int, end: int) -> bool:
    nearby = norm.words_before(start, KEYWORD_WINDOW) + norm.words_after(end, KEYWORD_WINDOW)
    return any(w in _SETTLEMENT_WORDS for w in nearby)


def _used_as_place(norm: _Normalised, start: int, end: int) -> bool:
    """Whether a form that is also an adjective follows a preposition or a settlement word."""
    prev = norm.words_before(start, 1)
    return bool(prev and prev[0] in _PREPOSITIONS) or _near_keyword(norm, start, end)


def _with_context(candidates: list[_Candidate], norm: _Normalised) -> list[_Candidate]:
    """Drop context-needing candidates with no other place or settlement word nearby."""
    anchors = [c for c in candidates if not c.needs_context]
    starts = [a.start for a in anchors]
    kept = []
    for cand in candidates:
        if cand.needs_context:
            at = bisect_right(starts, cand.start)
            nearest = anchors[max(0, at - 1) : at + 1]  # the closest anchor on each side
            if not (
                any(_distance(norm, cand, anchor) <= CONTEXT_WINDOW for anchor in nearest)
                or _near_keyword(norm, cand.start, cand.end)
            ):
                continue
        kept.append(cand)
    return kept


def _distance(norm: _Normalised, a: _Candidate, b: _Candidate) -> int:
    """Words from one candidate to the other: 1 when adjacent."""
    if a.end <= b.start:
        return norm.words_between(a.end, b.start) + 1
    return norm.words_between(b.end, a.start) + 1


@cache
def _default_gazetteer() -> Gazetteer:
    return Gazetteer.from_json(DATA_PATH)


# -- module-level shortcuts on the default gazetteer ----------------------------------------


def find(text: str) -> list[PlaceMatch]:
    """:meth:`Gazetteer.find` on the default gazetteer."""
    return Gazetteer.default().find(text)


def place_ids(text: str) -> set[str]:
    """:meth:`Gazetteer.place_ids` on the default gazetteer."""
    return Gazetteer.default().place_ids(text)


def expand_query(text: str) -> str:
    """:meth:`Gazetteer.expand_query` on the default gazetteer."""
    return Gazetteer.default().expand_query(text)


def by_id(place_id: str) -> Place:
    """:meth:`Gazetteer.by_id` on the default gazetteer."""
    return Gazetteer.default().by_id(place_id)


def resolve(name: str) -> Place | None:
    """:meth:`Gazetteer.resolve` on the default gazetteer."""
    return Gazetteer.default().resolve(name)


def all_places() -> list[Place]:
    """:meth:`Gazetteer.all` on the default gazetteer."""
    return Gazetteer.default().all()
