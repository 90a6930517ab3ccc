"""Numbers over time: daily per-direction counts read from reports, the series, the chart,
`sectorbot trend` and `/trend` through the fake Bot API."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings
from sectorbot.bot.trend.chart import draw
from sectorbot.bot.trend.text import CAPTION_LIMIT, caption_html, summary_line
from sectorbot.corpus.ingest import reprocess
from sectorbot.corpus.models import Document
from sectorbot.corpus.store import Store
from sectorbot.index import directions
from sectorbot.index.figures import READER, read_figures
from tests.commands import SECTORBOT
from tests.conftest import ROOT
from tests.fakebotapi import TOKEN, FakeBotAPI, parse_formatted_text, utf16_len
from tests.fakebotapi.photos import image_size

DAILY = ROOT / "corpus" / "daily"
EXPECTED = json.loads((ROOT / "tests" / "figures_expected.json").read_text())
POKROVSK = directions.DEFAULT


def figures(text: str, published: str | None = "2025-11-16") -> list[tuple[str, str, str, int]]:
    return sorted((f.day, f.as_of, f.direction, f.count) for f in read_figures(text, published))


# ------------------------------------------------------------------ reading the reports


def test_running_total_and_whole_day_in_three_languages() -> None:
    uk = "Станом на 16:00 15 листопада 2025 року на Покровському напрямку ворог 31 раз атакував."
    assert figures(uk) == [("2025-11-15", "16:00", "pokrovsk", 31)]
    ru = "По данным Генштаба, за 14 ноября на Покровском направлении было 47 боестолкновений."
    assert figures(ru) == [("2025-11-14", "", "pokrovsk", 47)]
    en = "Over the past 24 hours, Russian forces launched 52 assaults in the Pokrovsk direction."
    assert figures(en) == [("2025-11-15", "day", "pokrovsk", 52)]  # the day before the report
    # A morning summary's count without a time is the whole of the day before.
    morning = "У ранковому зведенні на Покровському напрямку зафіксовано 40 штурмових дій."
    assert figures(morning) == [("2025-11-15", "day", "pokrovsk", 40)]
    evening = "У вечірньому зведенні: на Покровському напрямку противник 58 разів атакував."
    assert figures(evening) == [("2025-11-16", "evening", "pokrovsk", 58)]


def test_each_direction_keeps_its_own_count() -> None:
    summary = (
        "Станом на 22:00 16 листопада відбулося 180 боєзіткнень. На Лиманському напрямку ворог "
        "20 разів атакував, на Покровському напрямку — 52 атаки; на Добропільському напрямку "
        "відбито 9 атак."
    )
    assert figures(summary) == [
        ("2025-11-16", "22:00", "dobropillia", 9),
        ("2025-11-16", "22:00", "pokrovsk", 52),
    ]  # Lyman is not a direction of the sector; the front's total names no direction
    # The largest count of a sentence is its figure: the smaller ones are parts of it.
    part = (
        "С начала суток на Покровском направлении противник 27 раз пытался атаковать, "
        "23 атаки отражены."
    )
    assert figures(part) == [("2025-11-16", "partial", "pokrovsk", 27)]


@pytest.mark.parametrize(
    "text",
    [
        # a share of the front's total, not the direction's count
        "Intense fighting went on with 191 clashes recorded, mainly on the Pokrovsk direction.",
        "З 20 по 25 жовтня зафіксовано 41 штурм, більшість — на Покровському напрямку.",
        # a span of days
        "За тиждень на Покровському напрямку окупанти здійснили 310 атак.",
        # clashes still under way
        "На Покровському напрямку наразі тривають 5 боєзіткнень.",
        # a direction named as a heading toward a town, and no count of attacks
        "Бої йшли у напрямку Мирнограда, де загинули 12 цивільних.",
        "The Pokrovsk direction saw 3 villages change hands.",
        # digits and words of an address
        "Battles went on near Pokrovsk on the Pokrovsk direction.](https://example.org/news/"
        "with-191-clashes-on-february-14/)",
    ],
)
def test_what_is_not_a_daily_count(text: str) -> None:
    assert figures(text) == []


def test_dates_the_reports_name() -> None:
    # A past-day count names its day; the report's own date is not that day.
    reuters = (
        "Reporting on Thursday, 27 November 2025, Reuters wrote that the military had stopped "
        "57 Russian assaults on the Pokrovsk direction over the past day, 26 November 2025."
    )
    assert figures(reuters, "2025-11-27") == [("2025-11-26", "day", "pokrovsk", 57)]
    # A day without a year takes the report's; a December count reported in January, the last.
    assert figures("31 грудня на Покровському напрямку було 44 атаки.", "2026-01-02") == [
        ("2025-12-31", "", "pokrovsk", 44)
    ]
    # Without a date anywhere, there is no day to put the count on.
    assert figures("На Покровському напрямку було 44 атаки.", None) == []


def test_directions_resolve_in_any_language_and_through_places() -> None:
    for name in ("Pokrovsk", "покровськ", "Покровське направление", "Красноармейск", "Мирноград"):
        assert directions.resolve(name) is POKROVSK, name
    assert directions.resolve("Добропілля").id == "dobropillia"  # type: ignore[union-attr]
    assert directions.resolve("Kupiansk") is None
    assert directions.resolve("") is None


# ------------------------------------------------------------------ the store


def _doc(text: str, published: str, ref: str) -> Document:
    return Document(text=text, title=ref, source="Test desk", url=f"https://example.org/{ref}",
                    published=published, origin_kind="text", origin_ref=ref)  # fmt: skip


def test_figures_follow_their_document_on_both_backends(database_target: str) -> None:
    store = Store(database_target, figures=READER)
    try:
        text = "Станом на 16:00 15 листопада на Покровському напрямку ворог 31 раз атакував."
        _, doc_id = store.upsert_document(_doc(text, "2025-11-15", "a"))
        rows = store.figures.series("pokrovsk", "2025-11-01", "2025-11-30")
        assert [(r.day, r.as_of, r.count) for r in rows] == [("2025-11-15", "16:00", 31)]
        assert rows[0].chunk_id in store.passage_ids(doc_id) and "31 раз" in rows[0].quote
        # A new version of the report replaces its figures; deleting it removes them.
        store.upsert_document(_doc(text.replace("31", "35"), "2025-11-15", "a"))
        assert [r.count for r in store.figures.series("pokrovsk", "2025-11-01", "2025-11-30")] == [
            35
        ]
        store.delete_document(doc_id)
        assert store.figures.count() == 0
    finally:
        store.close()


def test_reports_stored_without_a_reader_are_read_later_and_by_reprocess(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    plain = Store(path)  # as a database made before figures were read
    plain.upsert_document(
        _doc("За 14 ноября на Покровском направлении 47 атак.", "2025-11-15", "b")
    )
    plain.close()
    store = Store(path, figures=READER)
    try:
        assert store.figures.count() == 0 and store.figures.unread() != []
        assert store.figures.catch_up() == 1 and store.figures.unread() == []
        assert store.figures.count() == 1
        store.db.execute("DELETE FROM figures")  # as if an older reader had found nothing
        reprocess(store)
        assert store.figures.count() == 1
    finally:
        store.close()


# ------------------------------------------------------------------ the series


@pytest.fixture
def daily_service(settings: Settings, hash_embedder: object) -> Iterator[Service]:
    service = Service(settings)
    report = service.ingest([str(DAILY)])
    assert report.ok and len(report.added) == 15
    yield service
    service.close()


def test_daily_summaries_give_the_published_count_for_every_day(daily_service: Service) -> None:
    series = daily_service.trend(POKROVSK, days=30)
    got = {p.day: p.count for p in series.points}
    assert got == {day: v["count"] for day, v in EXPECTED["days"].items()}
    # Every running total was superseded by the day's later count, and is kept as such.
    superseded = {p.day: p.superseded for p in series.points}
    for total in EXPECTED["running_totals"]:
        assert total["count"] in superseded[total["day"]], total
    assert series.last == "2025-11-27" and len(series.days()) == 30
    change = series.week_change()
    assert change is not None and change.days == 5  # 21, 22, 25, 26 and 27 November
    assert round(change.this_week, 1) == round((62 + 40 + 52 + 57 + 59) / 5, 1)
    assert round(change.last_week, 1) == round((75 + 34 + 59) / 3, 1)  # 14–20 November


def test_caption_fits_telegram_and_moves_long_source_lists(daily_service: Service) -> None:
    series = daily_service.trend(POKROVSK, days=30)
    caption, rest = caption_html(series)
    plain, _ = parse_formatted_text(caption, "HTML")
    assert utf16_len(plain) <= CAPTION_LIMIT
    assert "59 attacks on 27 Nov 2025" in plain and "week before" in plain
    points = [replace(p, url=f"{p.url}?copy={i}") for i in range(8) for p in series.points]
    many = replace(series, points=points)
    caption, rest = caption_html(many)
    assert rest is not None and "next message" in caption
    assert utf16_len(parse_formatted_text(caption, "HTML")[0]) <= CAPTION_LIMIT
    line = summary_line(series)
    assert line is not None and "59" in line and "\n" not in line


def test_chart_is_a_phone_sized_png_with_gaps(daily_service: Service) -> None:
    png = draw(daily_service.trend(POKROVSK, days=30))
    assert png.startswith(b"\x89PNG") and image_size(png) == (1200, 675)


# ------------------------------------------------------------------ the command


def test_trend_command_json_table_and_chart(daily_service: Service, tmp_path: Path) -> None:
    # A folder of summaries in the three languages added on top, running totals included.
    extra = tmp_path / "more"
    extra.mkdir()
    written = {
        "a.md": ("en", "2025-11-29", "As of 16:00 on 29 November 2025, Russian forces had "
                 "attacked 22 times on the Pokrovsk direction."),
        "b.md": ("ru", "2025-11-30", "За прошедшие сутки, 29 ноября 2025 года, на Покровском "
                 "направлении было 48 боестолкновений."),
        "c.md": ("uk", "2025-11-30", "Станом на 22:00 30 листопада 2025 року на Покровському "
                 "напрямку ворог 17 разів атакував."),
    }  # fmt: skip
    for name, (lang, day, text) in written.items():
        (extra / name).write_text(_summary(lang, day, text))
    daily_service.ingest([str(extra)])
    daily_service.close()
    out = subprocess.run(
        [*SECTORBOT, "trend", "Покровськ", "--json", "--days", "20"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    points = {p["date"]: p for p in json.loads(out.stdout)["points"]}
    want = {d: v["count"] for d, v in EXPECTED["days"].items() if d >= "2025-11-11"}
    assert {d: p["count"] for d, p in points.items()} == {
        **want,
        "2025-11-29": 48,
        "2025-11-30": 17,
    }
    assert points["2025-11-29"]["superseded"] == [22] and points["2025-11-30"]["as_of"] == "22:00"
    assert all(p["url"].startswith("https://") for p in points.values())
    chart = tmp_path / "chart.png"
    table = subprocess.run(
        [*SECTORBOT, "trend", "Мирноград", "--out", str(chart), "--lang", "uk"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert "2025-11-27     59" in table.stdout and chart.read_bytes().startswith(b"\x89PNG")
    for bad, says in (("Kupiansk", "no direction 'Kupiansk'"), ("Dobropillia", "no daily counts")):
        refused = subprocess.run([*SECTORBOT, "trend", bad], capture_output=True, text=True,
                                 timeout=120)  # fmt: skip
        assert (
            refused.returncode != 0 and says in refused.stderr and "Traceback" not in refused.stderr
        )


def _summary(lang: str, day: str, text: str) -> str:
    return (f"---\ntitle: Daily count {day}\nsource: Test desk\nurl: https://example.org/{lang}"
            f"/{day}\ndate: {day}\nlang: {lang}\n---\n{text}\n")  # fmt: skip


# ------------------------------------------------------------------ Telegram


async def test_trend_sends_the_chart_with_its_sources(daily_service: Service) -> None:
    from tests.test_telegram import running, say

    with FakeBotAPI() as fake:
        fake.add_private_chat(7, "Olena", "olena", language_code="uk")
        async with running(fake, daily_service, admin_ids=frozenset()):
            since = len(fake.sent)
            fake.send_text(7, 7, "/trend Покровськ")
            photo = await fake.wait_for_async(lambda c: c.method == "sendPhoto", since=since)
            unknown = await say(fake, 7, 7, "/trend Куп'янськ")
            empty = await say(fake, 7, 7, "/trend Добропілля")
        assert fake.rejected == []
    png = photo.params["photo"].content
    assert image_size(png) == (1200, 675)
    assert photo.plain_text is not None and "59" in photo.plain_text
    assert "Покровський напрямок" in photo.plain_text  # the reader's language
    links = [e["url"] for e in photo.entities if e["type"] == "text_link"]
    assert "https://www.radiosvoboda.org/a/news-front-boi/33605866.html" in links
    assert "Добропільський" in (unknown.plain_text or "") and "Куп" in (unknown.plain_text or "")
    assert "Добропільський" in (empty.plain_text or "")


async def test_fake_refuses_what_telegram_refuses_of_a_photo(daily_service: Service) -> None:
    from telegram import Bot
    from telegram.error import BadRequest

    from tests.fakebotapi import loopback_request

    png = draw(daily_service.trend(POKROVSK, days=30))
    with FakeBotAPI() as fake:
        fake.add_private_chat(7, "Olena", "olena")
        async with Bot(TOKEN, base_url=fake.base_url, request=loopback_request()) as bot:
            with pytest.raises(BadRequest, match="caption is too long"):
                await bot.send_photo(7, png, caption="x" * 1025)
            with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
                await bot.send_photo(7, b"not a picture", filename="a.png")
            sent = await bot.send_photo(7, png, caption="<b>ok</b>", parse_mode="HTML")
    assert sent.photo[-1].width == 1200 and sent.caption == "ok"


def test_counts_move_with_export_and_import(daily_service: Service, tmp_path: Path) -> None:
    daily_service.close()
    dump = tmp_path / "export.jsonl"
    exported = subprocess.run([*SECTORBOT, "export", "--out", str(dump)], capture_output=True,
                              text=True, timeout=120)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    elsewhere = [*SECTORBOT, "--data-dir", str(tmp_path / "other")]
    imported = subprocess.run([*elsewhere, "import", str(dump), "--no-index"],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    moved = subprocess.run([*elsewhere, "trend", "Pokrovsk", "--json"], capture_output=True,
                           text=True, timeout=120)  # fmt: skip
    here = subprocess.run([*SECTORBOT, "trend", "Pokrovsk", "--json"], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert json.loads(moved.stdout) == json.loads(here.stdout)
    assert len(json.loads(moved.stdout)["points"]) == len(EXPECTED["days"])
