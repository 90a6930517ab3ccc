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
    window: tuple[str, str] | None = None  # a day, month or year the question names
    day: str | None = None  # the day itself, when the question names one
    digest: bool = False  # "what is happening in PLACE": the newest reports, not one fact
    terms: list[str] = field(default_factory=list)

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


SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11)}


def _month_window(word: str, year: int) -> tuple[str, str] | None:
    lowered = word.lower()
    if lowered in SEASONS:  # a season is three months; winter straddles two years, skipped
        first_month, last_month = SEASONS[lowered]
        end = _month_window(list(MONTHS)[last_month - 1], year)
        return date(year, first_month, 1).isoformat(), end[1] if end else f"{year}-12-31"
    month = MONTHS.get(lowered)
    if month is None:
        month = next((m for k, m in MONTHS.items() if len(k) >= 4 and lowered.startswith(k)), None)
    if month is None:
        return None
    first = date(year, month, 1)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return first.isoformat(), last.isoformat()


def _day(text: str) -> str | None:
    """The ISO day a question names, if any, in either order of day and month."""
    found = [(d, w, y) for d, w, y in DAY_FIRST_RE.findall(text)]
    found += [(d, w, y) for w, d, y in MONTH_FIRST_RE.findall(text)]
    for day, word, year in found:
        window = _month_window(word, int(year))
        if window is None or not 1 <= int(day) <= int(window[1][8:]):
            continue
        return f"{window[0][:8]}{int(day):02d}"
    return None


def parse_query(question: str) -> Query:
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
    for word, year in MONTH_YEAR_RE.findall(q.text):
        q.window = _month_window(word, int(year)) or q.window
    if q.window is None and (m := YEAR_RE.search(q.text)):
        q.window = (f"{m.group(1)}-01-01", f"{m.group(1)}-12-31")
    q.day = _day(q.text)
    if q.day is not None:
        day = date.fromisoformat(q.day)
        q.window = ((day - timedelta(DAY_SLACK[0])).isoformat(),
                    (day + timedelta(DAY_SLACK[1])).isoformat())  # fmt: skip
    q.digest = bool(DIGEST_RE.search(q.text))
    q.recent = q.recent or q.digest
    q.terms = content_terms(q.text)
    return q


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
