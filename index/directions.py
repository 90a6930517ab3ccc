"""The front's directions that the sector's daily summaries count attacks on.

The General Staff and the operational groupings report per direction: "на Покровському
напрямку", "на Покровском направлении", "on the Pokrovsk direction". A direction is named
after a town, so each record points at the gazetteer's place for that town, and any place of
the sector belongs to the direction whose town is nearest (Myrnohrad to Pokrovsk). The
adjective stems below are the beginnings every case form of the direction's name shares in
Ukrainian, Russian and Latin spelling, former names included.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sectorbot.corpus.text import fold
from sectorbot.index import gazetteer


@dataclass(frozen=True)
class Direction:
    id: str
    place: str  # the gazetteer id of the town the direction is named after
    names: dict[str, str]  # how a reader names it, per UI language
    stems: tuple[str, ...]  # folded beginnings of its adjective in any language

    def name(self, language: str = "en") -> str:
        """How a reader of `language` names it (English for a language it lacks)."""
        return self.names.get(language, self.names["en"])


def _direction(place: str, en: str, uk: str, ru: str, *stems: str) -> Direction:
    return Direction(place, place, {"en": en, "uk": uk, "ru": ru}, stems)


DIRECTIONS = (
    _direction("pokrovsk", "Pokrovsk", "Покровський", "Покровское",
               "покровськ", "покровск", "pokrovsk", "красноармійськ", "красноармейск",
               "krasnoarmiisk", "krasnoarmeisk", "krasnoarmeysk"),
    _direction("dobropillia", "Dobropillia", "Добропільський", "Добропольское",
               "добропільськ", "добропольск", "dobropil", "dobropol"),
    _direction("novopavlivka", "Novopavlivka", "Новопавлівський", "Новопавловское",
               "новопавлівськ", "новопавловск", "novopavliv", "novopavlov"),
    _direction("kurakhove", "Kurakhove", "Курахівський", "Кураховское",
               "курахівськ", "кураховск", "kurakh"),
    _direction("kostiantynivka", "Kostiantynivka", "Костянтинівський", "Константиновское",
               "костянтинівськ", "константиновск", "kostiantyniv", "kostyantyniv",
               "konstantinov"),
    _direction("toretsk", "Toretsk", "Торецький", "Торецкое", "торецьк", "торецк", "toretsk"),
    _direction("avdiivka", "Avdiivka", "Авдіївський", "Авдеевское",
               "авдіївськ", "авдеевск", "avdiiv", "avdeev"),
    _direction("kramatorsk", "Kramatorsk", "Краматорський", "Краматорское",
               "краматорськ", "краматорск", "kramatorsk"),
    _direction("sloviansk", "Sloviansk", "Слов'янський", "Славянское",
               "слов'янськ", "славянск", "sloviansk", "slovyansk", "slavyansk"),
)  # fmt: skip
DEFAULT = DIRECTIONS[0]
_BY_ID = {d.id: d for d in DIRECTIONS}
_NOUNS = r"напрям\w*|направлени\w*|directions?|axis|sector|front"
# An adjective (or a name) right before the direction's noun: "Покровському напрямку",
# "Pokrovsk direction"; a compound "Торецько-Покровському" is a direction of its own.
PHRASE_RE = re.compile(rf"([^\W\d_][\w'’ʼ-]*)\s+(?:{_NOUNS})(?![\w])", re.IGNORECASE)
_SUFFIX_RE = re.compile(rf"\s+(?:{_NOUNS})$", re.IGNORECASE)
NEAREST_KM = 40  # a place further than this from every direction's town belongs to none


def by_id(direction_id: str) -> Direction | None:
    return _BY_ID.get(direction_id)


def named_by(word: str) -> Direction | None:
    """The direction an adjective or name stands for ("Покровському", "Pokrovskyi")."""
    folded = fold(word)
    if "-" in folded.strip("-"):
        return None  # "Торецько-Покровський": another (combined) direction
    return next((d for d in DIRECTIONS if folded.startswith(d.stems)), None)


def resolve(name: str) -> Direction | None:
    """The direction a reader means: its id, its name in any language and case, the
    phrase with its noun ("Покровський напрямок"), or a place of the sector that lies in
    it ("Мирноград": Pokrovsk)."""
    text = _SUFFIX_RE.sub("", " ".join(name.split()))
    if not text:
        return None
    found = by_id(text.lower()) or named_by(text)
    if found is not None:
        return found
    place = gazetteer.resolve(text)
    return of_place(place.id) if place is not None else None


def of_place(place_id: str) -> Direction | None:
    """The direction a place of the sector lies in: the one named after the nearest town."""
    direct = by_id(place_id)
    if direct is not None:
        return direct
    try:
        place = gazetteer.by_id(place_id)
    except KeyError:
        return None
    distance, nearest = min((_km(place, gazetteer.by_id(d.place)), d) for d in DIRECTIONS)
    return nearest if distance <= NEAREST_KM else None


def _km(a: gazetteer.Place, b: gazetteer.Place) -> float:
    """The distance between two places, flat-earth (a few tens of kilometres apart)."""
    north = (a.lat - b.lat) * 111.2
    east = (a.lon - b.lon) * 111.2 * math.cos(math.radians((a.lat + b.lat) / 2))
    return math.hypot(north, east)
