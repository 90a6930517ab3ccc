"""Answers that state the asked fact: sentence choice, answer types, dates, uk/ru, digests."""

from datetime import date

import pytest

from sectorbot.bot.i18n import _, language
from sectorbot.bot.render import DIGEST_LEAD, render_text
from sectorbot.bot.service import Service
from sectorbot.index.answer import STALE_NOTICE, Answer, Source, _notice
from sectorbot.index.answer_types import carries, numbers_in, question_type
from sectorbot.index.gazetteer import Gazetteer
from sectorbot.index.lexicon import detect_language, to_english
from sectorbot.index.query import parse_query
from sectorbot.index.search import SearchResult
from sectorbot.index.sentences import answer_spans


@pytest.mark.parametrize(
    ("question", "window", "day"),
    [
        ("How many attacks on 27 February 2026?", ("2026-02-26", "2026-03-01"), "2026-02-27"),
        ("Where did they advance on February 26, 2026?", ("2026-02-25", "2026-02-28"),
         "2026-02-26"),
        ("Скільки атак було 27 лютого 2026?", ("2026-02-26", "2026-03-01"), "2026-02-27"),
        ("What happened in July 2024?", ("2024-07-01", "2024-07-31"), None),
        ("What happened on 31 February 2026?", ("2026-02-01", "2026-02-28"), None),
    ],
)  # fmt: skip
def test_a_named_day_or_month_is_a_window(question: str, window: tuple | None, day: str) -> None:
    query = parse_query(question)
    assert query.window == window and query.day == day


@pytest.mark.parametrize(
    ("question", "window", "when", "named"),
    [
        ("Що було в Покровську взимку 2025?", ("2024-12-01", "2025-02-28"), "взимку 2025",
         "season"),
        ("Бои у Покровска осенью 2024", ("2024-09-01", "2024-11-30"), "осенью 2024", "season"),
        ("Fighting near Pokrovsk in winter 2024", ("2023-12-01", "2024-02-29"), "winter 2024",
         "season"),
        ("Що було в Мирнограді влітку?", ("2026-06-01", "2026-08-31"), "влітку", "season"),
        ("Что было весной в Мирнограде?", ("2026-03-01", "2026-05-31"), "весной", "season"),
        ("Що там взимку?", ("2025-12-01", "2026-02-28"), "взимку", "season"),
        ("Скільки людей у травні 2025?", ("2025-05-01", "2025-05-31"), "травні 2025", "month"),
        ("What happened in 2024?", ("2024-01-01", "2024-12-31"), "in 2024", "year"),
        ("The fall of Avdiivka", None, None, None),
    ],
)  # fmt: skip
def test_seasons_in_three_languages_are_windows(
    question: str, window: tuple | None, when: str | None, named: str | None
) -> None:
    # A season without a year is the latest one begun by the day asked.
    query = parse_query(question, today=date(2026, 9, 15))
    assert (query.window, query.when, query.named) == (window, when, named)


@pytest.mark.parametrize(
    ("question", "kind"),
    [("How far were the troops from the town?", "distance"),
     ("How long can the drone stay in the air?", "duration"),
     ("How many people lived there?", "count"), ("When did the station close?", "date"),
     ("Which brigade held the line?", "unit"), ("Who commands the corps?", "person"),
     ("Where is the brigade based?", "place"), ("Why does the road matter?", None)],
)  # fmt: skip
def test_question_types(question: str, kind: str | None) -> None:
    assert question_type(question) == kind


def test_years_and_the_questions_own_numbers_are_not_the_asked_count() -> None:
    assert not carries("count", "The report was published in July 2024.")
    asked = numbers_in("How many stayed when the troops were two kilometres away?")
    assert not carries("count", "The troops were two kilometres away.", asked=asked)
    assert carries("count", "About 3,000 people stayed.", asked=asked)
    assert carries("distance", "They were about 20 kilometers from the town.")


def test_ukrainian_and_russian_questions_become_english_terms() -> None:
    gazetteer = Gazetteer.default()
    assert detect_language("Скільки людей жило в Покровську?") == "uk"
    assert detect_language("Сколько людей жило в Покровске?") == "ru"
    assert detect_language("How many people lived in Pokrovsk?") == "en"
    english = to_english("Скільки атак було на Покровському напрямку 27 лютого 2026?", gazetteer)
    assert english.startswith("how many") and "Pokrovsk" in english and "February" in english
    assert "attacks" in to_english("Сколько атак отбили у Покровска?", gazetteer)


def test_a_numeric_question_leads_with_its_number(sample_service: Service) -> None:
    answer = sample_service.ask(
        "How many people were still in Pokrovsk when its station stopped taking evacuation trains?"
    )
    assert answer.answered and answer.language == "en"
    assert "26,000" in answer.sentences[0].text
    assert answer.sources[0].ext_id == "sample-pokrovsk-trains-pavlohrad"
    assert len({s.document_id for s in answer.sentences}) <= 3  # lead, then a few others


def test_a_place_digest_in_ukrainian_is_newest_first(sample_service: Service) -> None:
    answer = sample_service.ask("Що відбувається в Мирнограді?")
    assert answer.answered and answer.digest and answer.language == "uk"
    dates = [s.date for s in answer.sources]
    assert dates == sorted(dates, reverse=True) and len(dates) >= 3
    # The terminal writes its own lines in the question's language; quotes stay as written.
    shown = render_text(answer)
    assert shown.startswith("Найновіші звіти про це місце, від найновішого:")
    assert "Джерела:" in shown
    with language("en"):
        assert _(DIGEST_LEAD) == DIGEST_LEAD  # the message id is the English line


def test_a_time_no_report_covers_is_refused(sample_service: Service) -> None:
    assert (
        sample_service.ask("How many people were still in Pokrovsk in July 2021?").answered is False
    )


def test_a_season_without_a_year_counts_back_from_the_newest_report(
    sample_service: Service,
) -> None:
    newest = date.fromisoformat(sample_service.retriever.newest_date()[:10])
    assert sample_service.retriever.today() == min(newest, date.today())
    window = sample_service.search("Що було в Мирнограді влітку?").query.window
    summers = [(f"{y}-06-01", f"{y}-08-31") for y in (newest.year, newest.year - 1)]
    assert window == next(w for w in summers if w[0] <= newest.isoformat())


STATION = "How many people were still in Pokrovsk when its station closed to evacuation trains {}?"


@pytest.mark.parametrize(
    ("question", "when"),
    [(STATION.format("on 5 September 2023"), "5 September 2023"),
     (STATION.format("in September 2023"), "September 2023"),
     (STATION.format("in autumn 2023"), "autumn 2023"),
     ("Скільки людей залишалося в Покровську восени 2023?", "восени 2023")],
)  # fmt: skip
def test_a_named_time_no_report_is_from_gets_the_near_miss_form(
    sample_service: Service, question: str, when: str
) -> None:
    answer = sample_service.ask(question)
    assert not answer.answered and answer.time_missing == when
    assert answer.sentences and answer.sources  # what the reports do say, with sources
    assert all(s.date and not s.date.startswith("2023") for s in answer.sources)
    text = render_text(answer)
    lead = "The reports I have don't say that for {when}."
    if answer.language == "uk":
        lead = "Звіти, які я маю, не кажуть цього про названий час ({when})."
    assert text.startswith(lead.format(when=answer.time_missing))
    assert "[1]" in text


@pytest.mark.parametrize("when", ["on 5 September 2024", "in September 2024"])
def test_the_named_time_that_reports_cover_is_answered(sample_service: Service, when: str) -> None:
    answer = sample_service.ask(STATION.format(when))
    assert answer.answered and answer.time_missing is None
    assert "26,000" in " ".join(s.text for s in answer.sentences)


def test_sentence_vectors_are_embedded_once_per_passage(sample_service: Service) -> None:
    sample_service.vectors.sentences = None  # no stored table: embedded on demand, once
    cache = sample_service.retriever.sentences
    sample_service.ask("Which station do evacuation trains leave from now?")
    filled = dict(cache._cache)
    assert filled
    sample_service.ask("Which station do evacuation trains leave from now?")
    assert cache._cache.keys() == filled.keys()
    assert all(cache._cache[k][1] is filled[k][1] for k in filled)  # reused, not re-embedded


def test_wrapped_lines_rejoin_and_short_statements_are_quotable() -> None:
    text = (
        "The defence of the bridge held for most of the spring, according to the brigade,\n"
        "but the crossing was lost within nine days of the thaw.\n"
        "\n"
        "The medic was tired. Her radio name is “Lark.” She has served since the first winter.\n"
        "\n"
        "### The convoy at dawn\n"
        "Share this report\n"
    )
    quoted = [text[s:e] for s, e in answer_spans(text)]
    assert quoted[0].endswith("brigade,\nbut the crossing was lost within nine days of the thaw.")
    assert "Her radio name is “Lark.”" in quoted  # five words, a full stop: a statement
    assert "The medic was tired." not in quoted  # too short to state a fact
    assert not any("convoy" in q or "Share" in q for q in quoted)  # heading, button


def test_each_quoted_sentence_shows_its_date_and_an_old_answer_says_so(
    sample_service: Service,
) -> None:
    answer = sample_service.ask("How many people were still in Pokrovsk in September 2024?")
    shown = render_text(answer)
    # The 2024 figure carries its year, so it is not read as today's.
    assert "26,000 people were still in Pokrovsk" in shown and "[1, 2024-09-05]" in shown
    held = (sample_service.store.newest_published() or "")[:10]
    assert held >= "2025-01-01"  # the sample holds reports much newer than September 2024
    assert f"the newest I have is from {held}." in shown
    answer.language = "uk"
    assert f"найновіший звіт, який я маю, — від {held}." in render_text(answer)
    answer.language = "ru"
    assert f"самое новое из всех, что у меня есть, — от {held}." in render_text(answer)


def test_an_answer_from_the_newest_reports_says_nothing_of_age(sample_service: Service) -> None:
    answer = sample_service.ask("Did Russia capture Pokrovsk?")
    assert answer.answered and answer.notice is None
    assert "2025-12-02]" in render_text(answer)


@pytest.mark.parametrize(("cited", "stale"), [("2025-09-03", False), ("2025-09-02", True)])
def test_the_age_notice_needs_a_gap_of_more_than_ninety_days(cited: str, stale: bool) -> None:
    held = "2025-12-02"  # 90 days after 2025-09-03, 91 after 2025-09-02
    undated = Source(2, "t", "p", None, None, 2, 2, None)
    answer = Answer("q", True, sources=[Source(1, "t", "p", cited, None, 1, 1, None), undated])
    result = SearchResult(parse_query("How many people left?"), [], set(), newest=held)
    notice = _notice(answer, result)
    assert (notice == STALE_NOTICE.format(cited=cited, held=held)) is stale
    assert stale or notice is None


def test_who_did_it_is_answered_by_the_sentence_that_says_who_did_it(
    sample_service: Service,
) -> None:
    answer = sample_service.ask("Who captured the lithium deposit near Shevchenko?")
    # Names alone are not a captor: "outlets had reported the capture" must not lead.
    lead = answer.sentences[0].text
    assert answer.answered and "East Group of Forces had captured" in lead
    assert answer.sources[0].publisher == "TASS"
