"""Daily per-direction counts read out of report text, in Ukrainian, Russian and English.

A figure is a sentence that names a direction and a count of attacks or combat clashes on it:
"станом на 16:00 16 листопада ... 58 разів атакували на Покровському напрямку", "за 12
ноября ... отбили на Покровском направлении 81 атаку", "40 combat engagements on the Pokrovsk
direction over the past 24 hours". For each one the reader works out:

- **the direction**, from the adjective before the noun (index/directions.py); a count belongs
  to the nearest direction named in its clause, so a summary that lists several directions
  gives each its own number, and directions outside the sector claim theirs;
- **the day**, from a date in the sentence, else the last one named before it, else the
  report's date. A "past day" wording ("минулої доби", "за прошедшие сутки", "over the past 24
  hours") is about the day before the report, unless the sentence names that earlier day;
- **how final it is** (`as_of`): a stated time ("станом на 16:00") marks a running total, "day"
  the whole day; a later running total or a whole-day figure supersedes it (see
  `sectorbot.bot.trend`).

A sentence's largest count per direction is its figure: the smaller ones are parts of it
("27 attempts, 23 of them repelled"). A count for a span of days, or one that is a share of the
front's total ("191 clashes, mostly on the Pokrovsk direction"), is not a daily figure and is
skipped; so are counts of clashes still going on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from sectorbot.corpus.models import Figure, FigureReader
from sectorbot.corpus.text import fold
from sectorbot.index import directions

_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "sept": 9, "oct": 10, "nov": 11, "dec": 12,
    "січня": 1, "лютого": 2, "березня": 3, "квітня": 4, "травня": 5, "червня": 6,
    "липня": 7, "серпня": 8, "вересня": 9, "жовтня": 10, "листопада": 11, "грудня": 12,
    "января": 1, "февраля": 2, "марта": 3, "апреля": 4, "мая": 5, "июня": 6, "июля": 7,
    "августа": 8, "сентября": 9, "октября": 10, "ноября": 11, "декабря": 12,
}  # fmt: skip
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_YEAR = r"(?:19|20)\d\d"
DAY_MONTH_RE = re.compile(
    rf"(?<![\w.])(\d{{1,2}})(?:-?(?:го|е|ого|th|st|nd|rd))?\s+({_MONTH})\.?(?:,?\s+({_YEAR}))?(?!\w)"
)
MONTH_DAY_RE = re.compile(
    rf"(?<!\w)({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?!\s*:)(?:,?\s+({_YEAR}))?(?!\w)"
)
NUMERIC_DATE_RE = re.compile(rf"(?<![\w.])(\d{{1,2}})\.(\d{{1,2}})\.({_YEAR})(?!\w)")
TIME_RE = re.compile(r"(?<![\w:.])([01]?\d|2[0-3]):([0-5]\d)(?![\w:])")
PAST_DAY_RE = re.compile(
    r"(?:минул|попередн)\w*\s+доб|за\s+добу|предыдущ\w*\s+(?:дн|сут)|(?:прошедш|минувш)\w*"
    r"\s+сут|за\s+сутки|(?:past|previous|last)\s+(?:day|24\s+hours)|yesterday|вчора|вчера|"
    r"накануне|підсумк\w*\s+доби"
)
SINCE_START_RE = re.compile(
    r"(?:від|з)\s+початку\s+доби|с\s+начала\s+суток|since\s+the\s+(?:start|beginning)\s+of"
    r"\s+the\s+day|since\s+(?:this\s+)?morning|з\s+ранку|с\s+утра"
)
EVENING_RE = re.compile(r"вечірн|вечерн|evening")
# A morning summary's count without a time is the whole of the day before.
MORNING_RE = re.compile(r"ранков|вранці|утренн|утром|morning")
# A count over several days, or a share of the whole front's: not one day on one direction.
SPAN_RE = re.compile(
    rf"(?:з|с|from|between)\s+\d{{1,2}}\s+(?:по|до|to|and)\s+\d{{1,2}}|\d{{1,2}}\s*[-–]\s*"
    rf"\d{{1,2}}\s+(?:{_MONTH})|тиж[нд]|недел|week|місяц|месяц|month|\d+\s+(?:дн|days)|"
    r"(?:з|с)\s+(?:початку|начала)\s+(?!доби|суток)|since\s+the\s+(?:start|beginning)\s+of"
    r"\s+(?!the\s+day)"
)
SHARE_RE = re.compile(
    r"більш|переважн|здебільш|найбільш|большинств|в\s+основном|преимуществ|половин|третин|"
    r"трет[ьи]|\bmost\b|mainly|mostly|majority|\bhalf\b|\bthird\b|quarter|всього|усього|"
    r"всего|\btotal\b|фронт|front\b"
)
ONGOING_RE = re.compile(r"трива|продовжу|продолжа|ongoing|continu|under\s+way|ведуть|идут")
ATTACK_NOUN_RE = re.compile(
    r"атак|штурм|наступальн|наступательн|спроб|попыт|attack|assault|attempt|offensive"
)
CLASH_NOUN_RE = re.compile(r"боєзіткнен|зіткнен|боестолкновен|столкновен|clash|engagement|battle")
TIMES_RE = re.compile(r"раз|рази|разів|раза|times")
ATTACK_VERB_RE = re.compile(
    r"атак|штурм|намага|пробува|пробу|пыта|attack|assault|attempt|tried|storm|advance|"
    r"наступа|просун|потісн|витісн|вибит|выбит"
)
# An address's digits and words ("…/with-191-clashes-on-february-14/") are no statement.
URL_RE = re.compile(r"(?:https?://|www\.)\S+")
NUMBER_RE = re.compile(r"(?<![\w.,:])(\d{1,4})(?![\w%]|[.,:]\d)")
WORD_AFTER_RE = re.compile(r"[^\W\d_][\w'’-]*")
WORDS_TO_NOUN = 3  # "47 штурмових дій", "52 enemy attacks", "75 штурмових і наступальних дій"
WORDS_TO_DIRECTION = 14
SENTENCE_RE = re.compile(r"[^\n.!?…]+(?:[.!?…]+(?=\s|$)|(?=\n)|$)|[^\n]+?(?=\n|$)")
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class _Dated:
    day: date
    start: int


@dataclass(frozen=True)
class _Count:
    count: int
    counted: str
    direction: str


def read_figures(text: str, published: str | None) -> list[Figure]:
    """The per-direction daily counts `text` states; `published` dates what it leaves open."""
    folded = URL_RE.sub(lambda m: " " * len(m.group()), fold(text))  # same offsets
    report_day = _report_day(published)
    carried: list[_Dated] = []  # dates named in earlier sentences
    carried_time = ""
    figures: dict[tuple[str, str, str], Figure] = {}
    for start, end in _sentences(folded):
        sentence = folded[start:end]
        dates = _dates(sentence, report_day or (carried[-1].day if carried else None))
        times = [f"{int(h):02d}:{m}" for h, m in TIME_RE.findall(sentence)]
        counts = _counts(text[start:end], sentence)
        if counts:
            known = times or ([carried_time] if carried_time and not dates else [])
            as_of, day = _when(sentence, dates, known, carried, report_day)
            if day is not None:
                for c in counts:
                    key = (day.isoformat(), c.direction, as_of)
                    if key not in figures or figures[key].count < c.count:
                        figures[key] = Figure(day.isoformat(), as_of, c.direction, c.counted,
                                              c.count, start, end)  # fmt: skip
        if dates:
            carried = dates
            carried_time = times[0] if times else ""
        elif times:
            carried_time = times[0]
    return list(figures.values())


def _report_day(published: str | None) -> date | None:
    if not published:
        return None
    try:
        return date.fromisoformat(published[:10])
    except ValueError:
        return None


def _sentences(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in SENTENCE_RE.finditer(text) if m.group().strip()]


def _dates(sentence: str, near: date | None) -> list[_Dated]:
    """The days a sentence names, in order; a day without a year takes the year that puts
    it closest before `near` (the report's date)."""
    found: list[_Dated] = []
    for m in DAY_MONTH_RE.finditer(sentence):
        found += _dated(int(m.group(1)), _MONTHS[m.group(2)], m.group(3), near, m.start())
    for m in MONTH_DAY_RE.finditer(sentence):
        found += _dated(int(m.group(2)), _MONTHS[m.group(1)], m.group(3), near, m.start())
    for m in NUMERIC_DATE_RE.finditer(sentence):
        found += _dated(int(m.group(1)), int(m.group(2)), m.group(3), near, m.start())
    return sorted(found, key=lambda d: d.start)


def _dated(day: int, month: int, year: str | None, near: date | None, at: int) -> list[_Dated]:
    if year is None and near is None:
        return []
    try:
        value = date(int(year) if year else near.year, month, day)  # type: ignore[union-attr]
        if year is None and near is not None and value > near + timedelta(days=2):
            value = value.replace(year=value.year - 1)
    except ValueError:
        return []
    return [_Dated(value, at)]


def _when(
    sentence: str,
    dates: list[_Dated],
    times: list[str],
    carried: list[_Dated],
    report_day: date | None,
) -> tuple[str, date | None]:
    """(as_of, day) of the figures in a sentence."""
    named = [d.day for d in dates] or [d.day for d in carried]
    past = PAST_DAY_RE.search(sentence) is not None
    if not past and not times and not SINCE_START_RE.search(sentence):
        past = MORNING_RE.search(sentence) is not None
    if past:
        earlier = [d for d in named if report_day is None or d < report_day]
        if earlier and (report_day is not None or not times):
            return "day", max(earlier)
        anchor = max(named) if named else report_day
        return "day", (anchor - _ONE_DAY if anchor else None)
    day = named[-1] if named else report_day
    if times:
        return times[0], day
    if EVENING_RE.search(sentence):
        return "evening", day
    if SINCE_START_RE.search(sentence):
        return "partial", day
    return "", day


def _counts(original: str, sentence: str) -> list[_Count]:
    """The largest count per direction that a sentence states for one day."""
    if SPAN_RE.search(sentence):
        return []
    phrases = _phrases(original, sentence)
    if not phrases:
        return []
    attack_verb = ATTACK_VERB_RE.search(sentence) is not None
    best: dict[str, _Count] = {}
    for m in NUMBER_RE.finditer(sentence):
        counted = _counted(sentence, m, attack_verb)
        if counted is None or _ongoing(sentence, m):
            continue
        direction = _direction_of(sentence, m.start(), phrases)
        if direction is None:
            continue
        count = _Count(int(m.group(1)), counted, direction)
        if direction not in best or best[direction].count < count.count:
            best[direction] = count
    return [c for c in best.values() if c.direction != "other"]


def _phrases(original: str, sentence: str) -> list[tuple[int, int, str]]:
    """(start, end, direction id or "other") of each direction the sentence names."""
    found = []
    for m in directions.PHRASE_RE.finditer(sentence):
        direction = directions.named_by(m.group(1))
        if direction is not None:
            found.append((m.start(), m.end(), direction.id))
        elif original[m.start()].isupper():  # "Лиманському напрямку": a direction not ours
            found.append((m.start(), m.end(), "other"))
        # lower case ("цьому напрямку", "the direction", "у напрямку"): names none
    return found


def _counted(sentence: str, number: re.Match[str], attack_verb: bool) -> str | None:
    """What the number counts, from the words right after it."""
    words = WORD_AFTER_RE.finditer(sentence, number.end())
    for i, word in enumerate(words):
        if i >= WORDS_TO_NOUN or _gap_breaks(sentence[number.end() : word.start()]):
            return None
        text = word.group()
        if CLASH_NOUN_RE.match(text):
            return "clashes"
        if ATTACK_NOUN_RE.match(text):
            return "attacks"
        if TIMES_RE.fullmatch(text):
            return "attacks" if attack_verb else None
    return None


def _gap_breaks(gap: str) -> bool:
    return any(ch.isdigit() or ch in ";:()" for ch in gap)


def _ongoing(sentence: str, number: re.Match[str]) -> bool:
    before = sentence[: number.start()].split()[-1:]
    after = sentence[number.end() :].split()[:4]
    return any(ONGOING_RE.match(w) for w in [*before, *after])


def _direction_of(sentence: str, at: int, phrases: list[tuple[int, int, str]]) -> str | None:
    """The direction a count at `at` belongs to: the nearest named in its clause, before it
    first, then after it, then before it in an earlier clause."""
    clause_start = sentence.rfind(";", 0, at) + 1
    clause_end = sentence.find(";", at)
    clause_end = len(sentence) if clause_end < 0 else clause_end
    before = [p for p in phrases if p[1] <= at]
    after = [p for p in phrases if p[0] > at and p[1] <= clause_end]
    in_clause = [p for p in before if p[0] >= clause_start]
    if in_clause:
        return _if_close(sentence, in_clause[-1][1], at, in_clause[-1][2])
    if after:
        return _if_close(sentence, at, after[0][0], after[0][2])
    if before:
        return _if_close(sentence, before[-1][1], at, before[-1][2])
    return None


def _if_close(sentence: str, start: int, end: int, direction: str) -> str | None:
    between = sentence[start:end]
    if len(between.split()) > WORDS_TO_DIRECTION or SHARE_RE.search(between):
        return None
    return direction


# Raise the version when the reader changes what it finds: stored reports are read again.
READER = FigureReader(version=1, read=read_figures)
