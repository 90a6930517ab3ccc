"""Reading a question: filters written in it, time intent, and the words worth searching."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from sectorbot.index.errors import QueryError

STOPWORDS = frozenset(
    """
    a an and are as at be been by can could did do does for from had has have how i in into
    is it its me near of on or over s so than that the their them then there these they this
    those to up was we were what when where which who whom whose why will with would you
    your about after before did latest news new now current currently recent recently today
    week month year happened happening happen tell know any there's what's who's going
    situation status update updates report reports say said says please give show me my our
    us also і й та в у на з із зі до від що як де коли хто чи це ці той та але про після
    перед чого яка який які яке було була були є бути зараз останні новини сьогодні тиждень
    ситуація скільки року році роках скольки сколько году годы
    и в во на с со к от что как где когда кто ли это эти тот но про после перед
    было была были есть быть сейчас последние новости сегодня неделя ситуация там тут его её
    их
    """.split()
)
RECENT_WORDS = re.compile(
    r"\b(latest|newest|most recent|recent(ly)?|now|currently|current|today|this week|"
    r"this month|past week|last few days|останні|останнє|зараз|сьогодні|цього тижня|"
    r"последние|последнее|сейчас|сегодня|на этой неделе)\b",
    re.IGNORECASE,
)
MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
    "січ": 1, "лют": 2, "берез": 3, "квіт": 4, "трав": 5, "черв": 6, "лип": 7, "серп": 8,
    "верес": 9, "жовт": 10, "листопад": 11, "груд": 12,
    "январ": 1, "феврал": 2, "март": 3, "апрел": 4, "ма": 5, "июн": 6, "июл": 7, "август": 8,
    "сентябр": 9, "октябр": 10, "ноябр": 11, "декабр": 12, "мая": 5,
    "січня": 1, "лютого": 2, "березня": 3, "квітня": 4, "травня": 5, "червня": 6,
    "липня": 7, "серпня": 8, "вересня": 9, "жовтня": 10, "листопада": 11, "грудня": 12,
}  # fmt: skip
FILTER_EXAMPLES = {"since": "2025-01-31", "until": "2025-01-31", "source": "ISW"}
FILTER_RE = re.compile(r"\b(since|until|source):(\"[^\"]+\"|'[^']+'|\S+)", re.IGNORECASE)
WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
MONTH_YEAR_RE = re.compile(r"\b([^\W\d_]{3,12})\.?\s+(?:of\s+)?((?:19|20)\d\d)\b", re.UNICODE)
YEAR_RE = re.compile(r"\b(?:in|during|у|в|за)\s+((?:19|20)\d\d)\b", re.IGNORECASE)
# "26 February 2026", "February 26, 2026", "27 лютого 2026": a day the question names.
DAY_FIRST_RE = re.compile(r"\b(\d{1,2})\s+([^\W\d_]{3,12})\.?,?\s+((?:19|20)\d\d)\b", re.UNICODE)
MONTH_FIRST_RE = re.compile(r"\b([^\W\d_]{3,12})\.?\s+(\d{1,2}),?\s+((?:19|20)\d\d)\b", re.UNICODE)
# "mid-December 2025", "у середині грудня", "в начале ноября": a third of a month; without
# a year, the latest such month.
PART_OF_MONTH_RE = re.compile(
    r"\b(?:(mid|early|late)[- ]|(середин\w*|початку|кінці|наприкінці|начале|конце|середине)"
    r"\s+)([^\W\d_]{3,12})(?:,?\s+((?:19|20)\d\d))?",
    re.IGNORECASE,
)
PARTS = {"mid": (11, 20), "середин": (11, 20), "early": (1, 10), "початку": (1, 10),
         "начале": (1, 10), "late": (21, 31), "кінці": (21, 31), "наприкінці": (21, 31),
         "конце": (21, 31)}  # fmt: skip
DAY_SLACK = (1, 2)  # a day's events are reported that day or up to two days later
# "What is happening in X", "latest on X" in English, Ukrainian and Russian: a place digest.
DIGEST_RE = re.compile(
    r"\b(?:what(?:'s| is| has been)? (?:happening|going on|new)|latest (?:news )?(?:on|from|"
    r"about|in)|news (?:from|about|on)|situation (?:in|at|around|near)|update on)\b|"
    r"що (?:відбувається|нового|там)|останні новини|ситуація (?:в|у|на|біля)|"
    r"что (?:происходит|нового)|последние новости|ситуация (?:в|у|на|под)|новости (?:из|о)",
    re.IGNORECASE,
)


@dataclass
class Query:
    text: str  # the question without its filters
    since: str | None = None
    until: str | None = None
    sources: list[str] = field(default_factory=list)
    recent: bool = False
    window: tuple[str, str] | None = None  # a day, month, season or year the question names
    day: str | None = None  # the day itself, when the question names one
    when: str | None = None  # the question's own words for that time ("in July 2024")
    named: str | None = None  # "day", "month", "season" or "year"
    digest: bool = False  # "what is happening in PLACE": the newest reports, not one fact
    terms: list[str] = field(default_factory=list)
    # An English question's words as Ukrainian and Russian reports write them: searched
    # beside `terms`, but no part of how much of the question a passage covers.
    cyrillic_terms: list[str] = field(default_factory=list)

    @property
    def has_filters(self) -> bool:
        return bool(self.since or self.until or self.sources)


def _iso(value: str, name: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        try:
            return date.fromisoformat(value + "-01").isoformat()
        except ValueError:
            raise QueryError(f"{name}:{value} is not a date (use {name}:2025-01-31)") from None


SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "winter": (12, 2)}
# Ukrainian and Russian seasons as a reader writes them: the adverb ("взимку", "осенью") and
# the noun's cases ("зима", "зими", "літо", "осені").
SEASON_FORMS = {
    "fall": "autumn",
    **dict.fromkeys("взимку узимку зимою зимой зима зими зиму зимі зимы зиме".split(), "winter"),
    **dict.fromkeys("навесні весною весной весна весни весну весні весны весне".split(),
                    "spring"),
    **dict.fromkeys("влітку улітку літом летом літо літа літі лето лета лете".split(), "summer"),
    **dict.fromkeys("восени осінню осенью осінь осені осень осени".split(), "autumn"),
}  # fmt: skip
# A season without a year: the reader means the latest one ("що було влітку").
YEARLESS_SEASON_RE = re.compile(
    r"\b(?:взимку|узимку|зимою|зимой|навесні|весною|весной|влітку|улітку|літом|летом|восени|"
    r"осінню|осенью|this (?:winter|spring|summer|autumn|fall))\b",
    re.IGNORECASE,
)


def _season(word: str) -> str | None:
    lowered = word.lower()
    return lowered if lowered in SEASONS else SEASON_FORMS.get(lowered)


def _season_window(season: str, year: int) -> tuple[str, str]:
    """Three months; a winter is the one whose January falls in `year` (Dec to Feb)."""
    first_month, last_month = SEASONS[season]
    first = date(year - 1 if first_month > last_month else year, first_month, 1)
    end = _month_window(list(MONTHS)[last_month - 1], year)
    return first.isoformat(), end[1] if end else f"{year}-12-31"


def _latest_season(season: str, today: date) -> tuple[str, str]:
    """The latest window of the season that has begun by `today`."""
    windows = [
        _season_window(season, year) for year in (today.year + 1, today.year, today.year - 1)
    ]
    return next(w for w in windows if w[0] <= today.isoformat())


def _month_window(word: str, year: int) -> tuple[str, str] | None:
    season = _season(word)
    if season is not None:
        return _season_window(season, year)
    lowered = word.lower()
    month = MONTHS.get(lowered)
    if month is None:
        month = next((m for k, m in MONTHS.items() if len(k) >= 4 and lowered.startswith(k)), None)
    if month is None:
        return None
    first = date(year, month, 1)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return first.isoformat(), last.isoformat()


def _day(text: str) -> tuple[str, str] | None:
    """The words naming a day and the ISO day, if any, in either order of day and month."""
    found = [(m.group(0), m.group(1), m.group(2), m.group(3)) for m in DAY_FIRST_RE.finditer(text)]
    found += [(m.group(0), m.group(2), m.group(1), m.group(3))
              for m in MONTH_FIRST_RE.finditer(text)]  # fmt: skip
    for words, day, word, year in found:
        if _season(word) is not None or (window := _month_window(word, int(year))) is None:
            continue
        if 1 <= int(day) <= int(window[1][8:]):
            return words, f"{window[0][:8]}{int(day):02d}"
    return None


def parse_query(question: str, today: date | None = None) -> Query:
    """Split a question into text, explicit filters and time intent."""
    q = Query(text=question)
    for name, raw in FILTER_RE.findall(question):
        value = raw.strip("\"'")
        name = name.lower()
        if not value.strip():
            raise QueryError(f"{name}: needs a value (e.g. {name}:{FILTER_EXAMPLES[name]})")
        if name == "source":
            q.sources.append(value)
        elif name == "since":
            q.since = _iso(value, "since")
        else:
            q.until = _iso(value, "until")
    q.text = " ".join(FILTER_RE.sub(" ", question).split())
    q.recent = bool(RECENT_WORDS.search(q.text))
    _named_time(q, today or date.today())
    q.digest = bool(DIGEST_RE.search(q.text))
    q.recent = q.recent or q.digest
    q.terms = content_terms(q.text)
    return q


def _named_time(q: Query, today: date) -> None:
    """The day, month, season or year the question names, as a window and in its words."""
    for m in MONTH_YEAR_RE.finditer(q.text):
        if window := _month_window(m.group(1), int(m.group(2))):
            q.window, q.when = window, m.group(0)
            q.named = "season" if _season(m.group(1)) else "month"
    if q.window is None and (yearless := YEARLESS_SEASON_RE.search(q.text)):
        season = _season(yearless.group(0).split()[-1])
        if season is not None:
            q.window, q.when, q.named = _latest_season(season, today), yearless.group(0), "season"
    if q.window is None and (year := YEAR_RE.search(q.text)):
        q.window = (f"{year.group(1)}-01-01", f"{year.group(1)}-12-31")
        q.when, q.named = year.group(0), "year"
    _part_of_month(q, today)
    found = _day(q.text)
    if found is not None:
        when, q.day = found
        day = date.fromisoformat(q.day)
        q.window = ((day - timedelta(DAY_SLACK[0])).isoformat(),
                    (day + timedelta(DAY_SLACK[1])).isoformat())  # fmt: skip
        q.when, q.named = when, "day"


def _part_of_month(q: Query, today: date) -> None:
    """Early, mid or late in a month: its first, middle or last ten days (and the two days
    after, when such a period is reported)."""
    m = PART_OF_MONTH_RE.search(q.text)
    if m is None:
        return
    part = (m.group(1) or m.group(2)).lower()
    first_day, last_day = next(v for k, v in PARTS.items() if part.startswith(k))
    years = [int(m.group(4))] if m.group(4) else [today.year, today.year - 1]
    for year in years:
        window = _month_window(m.group(3), year)
        if window is None or _season(m.group(3)):
            return
        start = f"{window[0][:8]}{first_day:02d}"
        if m.group(4) or start <= today.isoformat():
            end = min(f"{window[0][:8]}{last_day:02d}", window[1])
            slack = (date.fromisoformat(end) + timedelta(DAY_SLACK[1])).isoformat()
            q.window, q.when, q.named = (start, slack), m.group(0), "month"
            return


def content_terms(text: str) -> list[str]:
    """Lower-cased words that carry meaning, in order, without repeats."""
    seen: dict[str, None] = {}
    for word in WORD_RE.findall(text.lower()):
        word = word.replace("’", "'")
        if word not in STOPWORDS and (len(word) > 1 or word.isdigit()):
            seen.setdefault(word, None)
    return list(seen)


def stem(word: str) -> str:
    """A crude prefix stem: enough for FTS prefix queries over inflected words."""
    if word.isdigit() or len(word) <= 4:
        return word
    if re.search(r"[а-яіїєґё]", word):
        return word[: max(4, len(word) - 2)]
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word
