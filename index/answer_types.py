"""What kind of fact a question asks for, and whether a sentence carries one.

"How many" wants a number, "how far" a distance, "when" a date, "which brigade" a unit's
designation. The composer prefers sentences that carry the asked type, and a question whose
type no candidate carries is answered with less confidence.
"""

from __future__ import annotations

import re

from sectorbot.corpus.text import NAME_RE

NUMBER = r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|" \
    r"dozens?|hundreds?|thousands?|half|a third|one-third|" \
    r"півтор[аи]|полтора|полутора|один|одна|одного|два|дві|две|двох|двух|три|трьох|трех|" \
    r"чотир\w*|четыр\w*|п'ять|пять|шість|шесть|сім|семь|вісім|восемь|дев'ять|девять|" \
    r"десять|десятк\w*|сотн\w*|тисяч\w*|тысяч\w*|кільк\w+|несколько|кілька)"  # fmt: skip
# Ukrainian and Russian units inflect: "10 км", "півтора кілометра", "сорока километров".
DISTANCE_RE = re.compile(
    rf"(?<![\w]){NUMBER}(?:\s|-)?(?:km|kilomet\w*|miles?|metres?|meters?|m|км|кілометр\w*|"
    r"километр\w*|метр\w*|м)(?![\w])", re.IGNORECASE,
)  # fmt: skip
DURATION_RE = re.compile(
    rf"(?<![\w]){NUMBER}[\s-]+(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|"
    r"секунд\w*|хвилин\w*|минут\w*|годин\w*|час\w*|діб|доб[аиу]|сут\w*|дн\w*|день|"
    r"тиж\w*|тижн\w*|недел\w*|місяц\w*|месяц\w*|рок\w*|лет|год[аы]?)(?![\w])",
    re.IGNORECASE,
)  # fmt: skip
COUNT_RE = re.compile(rf"\b{NUMBER}\b", re.IGNORECASE)
MONTH_NAMES = (
    r"January|February|March|April|May|June|July|August|September|October|November|December"
)
# Month names in the genitive, as a day is written in Ukrainian ("15 грудня") and Russian
# ("15 декабря"); "в середине декабря", "у середині грудня" name a part of a month.
CYRILLIC_MONTHS = (
    r"січня|лютого|березня|квітня|травня|червня|липня|серпня|вересня|жовтня|листопада|грудня|"
    r"января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря"
)
DATE_RE = re.compile(
    rf"\b(?:(?:{MONTH_NAMES})(?:\s+\d{{1,2}})?,?\s+(?:19|20)\d\d|\d{{1,2}}\s+(?:{MONTH_NAMES})|"
    rf"(?:{MONTH_NAMES})\s+\d{{1,2}}|(?:since|in|by|until|from)\s+(?:{MONTH_NAMES}|(?:19|20)\d\d)|"
    r"(?:on|last)\s+(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday))\b|"
    rf"(?<![\w])(?:\d{{1,2}}(?:-?(?:го|е|ого))?\s+(?:{CYRILLIC_MONTHS})|(?:{CYRILLIC_MONTHS})"
    r"\s+(?:19|20)\d\d|(?:середин\w+|початку|кінці|начале|конце)\s+"
    rf"(?:{CYRILLIC_MONTHS}))(?![\w])",
    re.IGNORECASE,
)
UNIT_RE = re.compile(
    r"\b(?:\d+(?:st|nd|rd|th)\b|brigade|regiment|battalion|corps|division|detachment|"
    r"group of forces|center|centre|unit)|(?<![\w])(?:\d+-(?:[аийяеої]|ша|ий|та|го|ої)\b|"
    r"бригад|полк|батальйон|батальон|корпус|дивізі|дивизи|угрупован|группировк|загін|отряд|"
    r"підрозділ|подразделени)",
    re.IGNORECASE,
)
YEAR_RE = re.compile(r"\b(?:19|20)\d\d\b")
CARRIES = {
    "distance": DISTANCE_RE,
    "duration": DURATION_RE,
    "count": COUNT_RE,
    "date": DATE_RE,
    "unit": UNIT_RE,
}
QUESTION_TYPES = (
    ("distance", re.compile(r"\bhow (?:far|close|near|deep)\b", re.IGNORECASE)),
    ("duration", re.compile(r"\bhow long\b(?! (?:a|is the|was the) (?:sentence|term))", re.I)),
    ("count", re.compile(
        r"\bhow (?:many|much|large|big|heavy|long a sentence)\b|\bwhat (?:share|number|"
        r"percentage|prison term|sentence)\b", re.IGNORECASE)),
    ("date", re.compile(r"^\s*(?:when|since when|on what (?:day|date))\b", re.IGNORECASE)),
    ("unit", re.compile(
        r"\b(?:which|what) (?:\w+ ){0,3}(?:brigade|regiment|unit|formation|corps|battalion|"
        r"division|detachments?)\b", re.IGNORECASE)),
    ("person", re.compile(r"^\s*who\b|\bwhat is the call sign\b|\bwhich \w+ (?:general|"
                          r"videographer|reporter|commander|spokes\w+)\b", re.IGNORECASE)),
    ("place", re.compile(r"^\s*where\b", re.IGNORECASE)),
)  # fmt: skip


def question_type(question: str) -> str | None:
    """The kind of fact asked for, read from an English question (or its rendering)."""
    for name, pattern in QUESTION_TYPES:
        if pattern.search(question):
            return name
    return None


def numbers_in(question: str) -> set[str]:
    """The numbers a question itself states ("two kilometres away"): not the asked fact."""
    return {m.group(0).lower() for m in COUNT_RE.finditer(question)}


def carries(
    kind: str | None, sentence: str, places: set[str] | None = None,
    asked: set[str] | None = None,
) -> bool:  # fmt: skip
    """True when the sentence holds a fact of the asked kind (anything does for no kind);
    numbers the question itself states do not count."""
    if kind is None:
        return True
    if asked and kind in ("count", "distance", "duration"):
        for number in asked:
            sentence = re.sub(rf"\b{re.escape(number)}\b", " ", sentence, flags=re.IGNORECASE)
    if kind == "person":
        return len(NAME_RE.findall(sentence)) >= 2
    if kind in ("count", "distance", "duration"):
        # Years and days of the month are numbers too, but not the asked quantity.
        sentence = YEAR_RE.sub(" ", DATE_RE.sub(" ", sentence))
    if kind == "place":
        return bool(places) or bool(re.search(r"\b(?:in|near|at|of|from)\s+[A-Z]", sentence))
    return bool(CARRIES[kind].search(sentence))
