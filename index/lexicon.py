"""Ukrainian and Russian questions in English search terms, beside their own words.

A Ukrainian or Russian question searches its own words (in dictionary form, see
`index/morphology.py`) and the multilingual model reads it as asked; English reports are
reached as well through the English keywords rendered here: places through the gazetteer
(every spelling of a place shares one record), war terms through the small lexicon below,
months and numbers as they are. The rendering also carries the question words ("скільки" as
"how many") from which the composer reads the kind of fact asked for. The words are stems
because both languages inflect: "Покровськ", "Покровську", "Покровського".
"""

from __future__ import annotations

import re

from sectorbot.index.gazetteer import Gazetteer
from sectorbot.index.query import MONTHS

CYRILLIC_RE = re.compile(r"[а-яіїєґёА-ЯІЇЄҐЁ]")
UK_ONLY_RE = re.compile(r"[іїєґІЇЄҐ]|\b(?:що|як|де|коли|скільки|чи|це|був|була|війн)\w*", re.I)
RU_ONLY_RE = re.compile(r"[ыэъёЫЭЪЁ]|\b(?:что|как|где|когда|сколько|это|был|была|войн)\w*", re.I)
# Stem (uk or ru) -> English terms; question words become the English question words so that
# the answer type ("how many", "how far") is read the same way as in an English question.
LEXICON = {
    "скільки": "how many", "сколько": "how many", "як далеко": "how far", "как далеко": "how far",
    "наскільки близько": "how close", "как близко": "how close", "скільки часу": "how long",
    "как долго": "how long", "коли": "when", "когда": "when", "хто": "who", "кто": "who",
    "де ": "where", "где": "where", "яка бригад": "which brigade", "какая бригад": "which brigade",
    "який підрозділ": "which unit", "какой полк": "which regiment", "бої": "fighting",
    "бои": "fighting", "бій": "fighting", "боя": "fighting", "битв": "battle", "штурм": "assault",
    "атак": "attacks", "наступ": "offensive", "обстріл": "shelling", "обстрел": "shelling",
    "дрон": "drones", "безпілот": "drones", "беспилот": "drones", "бпла": "drones",
    "захопи": "captured", "захват": "captured", "взял": "captured", "взят": "captured",
    "окупов": "occupied", "оккупир": "occupied", "відступ": "withdrew", "отступ": "withdrew",
    "вийшл": "withdrew", "вышл": "withdrew", "евакуац": "evacuation", "эвакуац": "evacuation",
    "втрат": "casualties", "потер": "casualties", "загинул": "killed", "погиб": "killed",
    "поранен": "wounded", "ранен": "wounded", "бригад": "brigade", "полк": "regiment",
    "корпус": "corps", "військ": "troops", "войск": "troops", "солдат": "soldiers",
    "російськ": "Russian", "российск": "Russian", "росі": "Russia", "росси": "Russia",
    "українськ": "Ukrainian", "украинск": "Ukrainian", "україн": "Ukraine", "украин": "Ukraine",
    "люд": "people", "мешкан": "residents", "жител": "residents", "населен": "population",
    "до війни": "before war", "до войны": "before war", "трива": "lasted", "длил": "lasted",
    "просун": "advanced", "продвин": "advanced", "напрямк": "direction", "направлен": "direction",
    "логіст": "logistics", "логист": "logistics", "лінії фронту": "front line",
    "линии фронта": "front line", "оборон": "defended defense", "тримал": "held", "удерж": "held",
    "місто": "city", "город": "city", "вибухів": "explosives", "взрывчат": "explosives",
    "новин": "news", "останні": "latest", "последн": "latest", "відбуває": "happening",
    "происходит": "happening", "ситуац": "situation", "контрнаступ": "counteroffensive",
    "контратак": "counterattack", "ракет": "missiles", "переговор": "talks", "санкц": "sanctions",
    "зброї": "weapons", "оруж": "weapons", "допомог": "aid", "помощ": "aid", "мирн": "peace",
    "км": "km", "кілометр": "kilometres", "километр": "kilometres",
    "на якій відстані": "how far", "на каком расстоянии": "how far", "як довго": "how long",
    "якого числа": "when", "в який день": "when", "якого дня": "when", "какого числа": "when",
    "в какой день": "when", "з якого часу": "since when", "с какого времени": "since when",
    "який відсоток": "what percentage", "какой процент": "what percentage",
    "яку частку": "what share", "какую долю": "what share",
    "які бригад": "which brigade", "какие бригад": "which brigade",
}  # fmt: skip
ENGLISH_MONTHS = {
    n: name.capitalize() for name, n in MONTHS.items() if name.isascii() and len(name) > 3
}


def detect_language(text: str) -> str:
    """'en', 'uk' or 'ru': letters and common words that only one of the two languages has."""
    if not CYRILLIC_RE.search(text):
        return "en"
    uk, ru = len(UK_ONLY_RE.findall(text)), len(RU_ONLY_RE.findall(text))
    return "uk" if uk > ru else "ru"


def _months(text: str) -> list[str]:
    found = []
    for word in re.findall(r"[а-яіїєґё]+", text):
        for stem, n in MONTHS.items():
            if len(stem) >= 3 and word.startswith(stem) and CYRILLIC_RE.match(stem):
                found.append(ENGLISH_MONTHS.get(n, ""))
                break
    return [m for m in found if m]


def to_english(text: str, gazetteer: Gazetteer) -> str:
    """English keywords for a Ukrainian or Russian question, in the question's order where
    it matters (question words first); an English question comes back unchanged."""
    if detect_language(text) == "en":
        return text
    matches = gazetteer.find(text)
    lowered = text
    for m in sorted(matches, key=lambda m: -m.start):  # place names are not lexicon words
        lowered = lowered[: m.start] + " " + lowered[m.end :]
    lowered = " " + lowered.lower() + " "
    words: list[str] = []
    for stem, english in sorted(LEXICON.items(), key=lambda kv: -len(kv[0])):
        if re.search(r"(?<![а-яіїєґё])" + re.escape(stem), lowered):
            words.append(english)
            lowered = lowered.replace(stem, " ")
    places = [m.place.name for m in matches]
    numbers = re.findall(r"\b\d[\d.,]*\b", text)
    months = _months(text.lower())
    asks = [w for w in words if w.startswith(("how", "when", "who", "where", "which"))]
    rest = [w for w in words if w not in asks]
    parts = [*asks, *rest, *dict.fromkeys(places), *months, *numbers]
    return " ".join(dict.fromkeys(" ".join(parts).split())) or text
