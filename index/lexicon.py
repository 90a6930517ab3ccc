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


# English question words (their beginnings) -> Ukrainian and Russian words in dictionary form,
# for the lexical side: an English question then reaches a report in either language by its
# words, not only through the multilingual model. Only words specific enough to pick a report
# out; "Russian", "troops" or "city" would match half the corpus.
TO_CYRILLIC = {
    "child": "дитина діти ребёнок дети", "evacuat": "евакуація эвакуация",
    "apartment": "квартира квартира", "resident": "мешканець житель", "shell": "обстріл обстрел",
    "mine": "шахта шахта", "coal": "вугілля уголь", "sabotage": "диверсійний диверсионный",
    "territor": "територія территория", "interview": "інтерв'ю интервью",
    "blogger": "блогер блогер", "map": "мапа карта", "breakthrough": "прорив прорыв",
    "village": "село селище село поселок", "position": "позиція позиция",
    "radio": "радіо радио", "ministry": "міністерство министерство",
    "defence": "оборона оборона", "defense": "оборона оборона", "bomb": "бомба авіабомба",
    "strike": "удар удар", "drone": "дрон безпілотник беспилотник", "assault": "штурм штурм",
    "attack": "атака атака", "command": "командувач командующий", "commander": "командир",
    "intelligence": "розвідка разведка", "deadline": "термін срок", "foundation": "фонд фонд",
    "volunteer": "волонтер волонтер", "journalist": "журналіст журналист",
    "industrial": "промзона промышленный промисловий", "plant": "завод завод",
    "police": "поліція полиция", "hospital": "лікарня больница", "school": "школа школа",
    "water": "вода вода", "gas": "газ газ", "electric": "електрика электричество",
    "power": "світло електроенергія свет",
    "railway": "залізниця железная", "station": "вокзал станція вокзал станция",
    "road": "дорога траса дорога трасса", "highway": "траса шосе трасса шоссе",
    "bridge": "міст мост", "river": "річка река", "reservoir": "водосховище водохранилище",
    "encircle": "оточення окружение", "surround": "оточення окружение",
    "withdraw": "відхід відступ отход", "retreat": "відступ отступление",
    "captur": "захоплення захват взятие", "liberat": "звільнення освобождение",
    "counteroffensive": "контрнаступ контрнаступление", "infiltrat": "інфільтрація просочування",
    "casualt": "втрати потери", "killed": "загиблий погибший", "wounded": "поранений раненый",
    "prisoner": "полонений пленный", "surrender": "полон плен", "deserter": "дезертир",
    "brigade": "бригада бригада", "regiment": "полк полк", "battalion": "батальйон батальон",
    "corps": "корпус корпус", "marine": "морпіх морпех", "kilomet": "кілометр километр",
    "square": "квадратний квадратный", "percent": "відсоток процент",
    "population": "населення население", "people": "людина человек", "mayor": "мер голова",
    "governor": "губернатор голова", "administration": "адміністрація администрация",
    "president": "президент президент", "general staff": "генштаб генштаб",
    "operation": "операція операция", "ceo": "гендиректор генеральний директор",
    "director": "директор директор", "company": "компанія компания",
    "lithium": "літій литий", "deposit": "родовище месторождение", "border": "кордон граница",
    "oblast": "область область", "region": "область регион", "front line": "фронт фронт",
    "logistic": "логістика логистика", "supply": "постачання снабжение",
    "fortif": "укріплення укрепление", "trench": "окоп окоп", "tank": "танк танк",
    "artillery": "артилерія артиллерия", "missile": "ракета ракета", "air defen": "ппо пво",
    "guided": "кабів кабы кероване", "helicopter": "гелікоптер вертолет",
    "aircraft": "літак самолет", "pilot": "пілот пилот", "sniper": "снайпер снайпер",
    "ambush": "засідка засада", "convoy": "колона колонна", "armour": "бронетехніка бронетехника",
    "armor": "бронетехніка бронетехника", "vehicle": "техніка техника",
    "talks": "переговори переговоры", "peace": "мир мир", "ceasefire": "перемир'я перемирие",
    "sanction": "санкції санкции", "factory": "завод фабрика",
    "enterprise": "підприємство предприятие",
    "damage": "пошкодження повреждение пошкоджений", "destroy": "знищений уничтоженный",
    "apartment block": "будинок дом багатоповерхівка многоэтажка", "house": "будинок дом",
    "civilian": "цивільний мирный", "wife": "дружина жена", "family": "родина семья",
}  # fmt: skip
# Latin letters to Cyrillic for a name no gazetteer record holds ("Syrskyi": Сирський and
# Сырский): the Ukrainian national transliteration read backwards, and a Russian reading.
_LATIN = [
    ("shch", "щ", "щ"), ("zh", "ж", "ж"), ("kh", "х", "х"), ("ts", "ц", "ц"), ("ch", "ч", "ч"),
    ("sh", "ш", "ш"), ("yu", "ю", "ю"), ("ya", "я", "я"), ("ye", "є", "е"), ("yi", "ї", "ий"),
    ("iy", "ий", "ий"), ("yy", "ий", "ый"), ("a", "а", "а"), ("b", "б", "б"), ("v", "в", "в"),
    ("h", "г", "г"), ("g", "г", "г"), ("d", "д", "д"), ("e", "е", "е"), ("z", "з", "з"),
    ("y", "и", "ы"), ("i", "і", "и"), ("k", "к", "к"), ("l", "л", "л"), ("m", "м", "м"),
    ("n", "н", "н"), ("o", "о", "о"), ("p", "п", "п"), ("r", "р", "р"), ("s", "с", "с"),
    ("t", "т", "т"), ("u", "у", "у"), ("f", "ф", "ф"), ("c", "к", "к"), ("w", "в", "в"),
    ("x", "кс", "кс"), ("j", "й", "й"), ("q", "к", "к"),
]  # fmt: skip
_NAME_RE = re.compile(r"\b[A-Z][a-z]{3,}(?:['’][a-z]+)?\b")


def transliterate(name: str) -> tuple[str, str]:
    """A Latin name in Ukrainian and in Russian letters, as their press would spell it."""
    low = name.lower().replace("'", "").replace("’", "")
    ending = re.search(r"(?:yi|iy|yy)$", low)  # Syrskyi: -ський / -ский
    if ending:
        low = low[: ending.start()]
    uk, ru = [], []
    i = 0
    while i < len(low):
        for latin, u, r in _LATIN:
            if low.startswith(latin, i):
                uk.append(u)
                ru.append(r)
                i += len(latin)
                break
        else:
            i += 1
    if ending:
        return re.sub("ск$", "ськ", "".join(uk)) + "ий", "".join(ru) + "ий"
    return "".join(uk), "".join(ru)


def cyrillic_forms(word: str, name: bool = False) -> list[str]:
    """The Ukrainian and Russian words for one English word (and its letters in both
    alphabets when it is a name): what a Cyrillic report says it with."""
    low = word.lower()
    forms = [w for eng, cyr in TO_CYRILLIC.items() if " " not in eng and low.startswith(eng)
             for w in cyr.split()]  # fmt: skip
    return [*forms, *transliterate(word)] if name else forms


def to_cyrillic(text: str, gazetteer: Gazetteer) -> list[str]:
    """Ukrainian and Russian words for an English question's war terms, and its names that
    no gazetteer record holds in both alphabets; nothing for a Cyrillic question."""
    if detect_language(text) != "en":
        return []
    low = " " + text.lower()
    words = [cyr for eng, cyr in TO_CYRILLIC.items() if re.search(r"[^a-z]" + eng, low)]
    for found in _NAME_RE.findall(text):
        name = re.sub(r"['’]s$", "", found)
        if gazetteer.resolve(name) is None and name.lower() not in _NOT_NAMES:
            words.extend(transliterate(name))
    return " ".join(words).split()


# Capitalised words that begin English questions or name no one.
_NOT_NAMES = frozenset(
    "what which when where who whom whose how why were was does did have has after before "
    "besides near according from since during under over with this that these those roughly "
    "about into ukraine ukrainian russia russian russians ukrainians colonel general major "
    "captain lieutenant sergeant president minister commander group forces army brigade "
    "january february march april june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday kanal news post press".split()
)
