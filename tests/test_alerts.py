"""Group-chat alerts end to end: feeds on a local HTTP server, the real PTB stack on the fake
Bot API, the real store, gazetteer and embedding model.

The feed XML is changed between polls by the tests; every address is 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import email.utils
import html
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from click.testing import CliRunner
from telegram import Bot
from telegram.ext import Application

from sectorbot.bot.alerts import migrations as alert_migrations
from sectorbot.bot.alerts import subscriptions as subs
from sectorbot.bot.alerts.digest import MESSAGE_LIMIT, render_digest
from sectorbot.bot.alerts.match import DocText, KeywordIndex, Matcher, process_inbox
from sectorbot.bot.alerts.outbox import PendingAlert, digest_wait, in_quiet_hours, quiet_until
from sectorbot.bot.alerts.poller import MAX_BACKOFF, Poller, add_feed, next_delay
from sectorbot.bot.alerts.runtime import AlertsRuntime
from sectorbot.bot.alerts.send import Sender
from sectorbot.bot.alerts.store import AlertStore, ChatRef
from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings
from sectorbot.bot.telegram.alert_transport import TelegramTransport
from sectorbot.bot.telegram.alerts import NOT_ALLOWED, render_status
from sectorbot.bot.telegram.app import ALLOWED_KINDS, build_application
from sectorbot.bot.telegram.render import render_feeds
from sectorbot.corpus import migrations
from sectorbot.corpus.dates import parse_stamp
from sectorbot.corpus.legacy_migrations import LEGACY
from sectorbot.corpus.store import Store
from sectorbot.corpus.text import fold
from sectorbot.index.gazetteer import Gazetteer
from tests.fakebotapi import BOT_USERNAME, TOKEN, Call, FakeBotAPI, loopback_request, polling
from tests.fakes import HashEmbedder
from tests.httpserver import LocalServer

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "corpus" / "sample"
ADMIN, ALICE, BOB, CAROL = 1001, 2001, 2002, 2003
GROUP, OTHER_GROUP, THIRD_GROUP = -1001234567890, -1009876543210, -1005555555555
STAMP = time.time()  # one publication time for the run: re-served entries stay identical
FILLER = (
    "Local officials gave further details about the situation in the area, the roads and "
    "the people who remain there, and said they would report again when they knew more. "
) * 4


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # httpx honours proxy variables; everything here talks to 127.0.0.1 directly.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)


# ---------------------------------------------------------------------------------- helpers


def entry(slug: str, title: str, text: str, server: LocalServer, url: str | None = None) -> dict:
    """One feed entry; its text is long enough that the loader never fetches the link."""
    return {"title": title, "link": url or server.url(f"/news/{slug}"), "guid": slug,
            "text": f"{text} {FILLER}"}  # fmt: skip


def rss(entries: list[dict], when: float | None = None) -> str:
    """An RSS 2.0 document; every entry dated `when` (now by default) so it counts as news."""
    date = email.utils.formatdate(when or time.time(), usegmt=True)
    items = "".join(
        f"<item><title>{html.escape(e['title'])}</title><link>{html.escape(e['link'])}</link>"
        f'<guid isPermaLink="false">{e["guid"]}</guid><pubDate>{date}</pubDate>'
        f"<description>{html.escape(e['text'])}</description></item>"
        for e in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Donbas Wire</title><link>http://127.0.0.1/</link><description>test</description>"
        f"{items}</channel></rss>"
    )


def serve(server: LocalServer, entries: list[dict], etag: str, path: str = "/feed.xml") -> str:
    return server.set(path, rss(entries, when=STAMP), "application/rss+xml", {"ETag": etag})


def group_ref(chat_id: int = GROUP) -> ChatRef:
    return ChatRef(chat_id, "supergroup", "Pokrovsk watchers")


def alerts(service: Service, **where: Any) -> list[dict[str, Any]]:
    clause = " AND ".join(f"{k} = ?" for k in where) or "1"
    return service.store.db.query(
        f"SELECT * FROM alerts WHERE {clause} ORDER BY id", list(where.values())
    )


def alert_messages(fake: FakeBotAPI, chat_id: int) -> list[Call]:
    return [c for c in fake.messages_to(chat_id) if (c.text or "").startswith("<b>🔔")]


async def until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Wait (yielding to the loop) until `check()` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)
    return value


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as s:
        yield s


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Service]:
    """An empty store with the real embedding model (loaded once per process)."""
    service = Service(Settings(data_dir=tmp_path / "fresh", poll_interval=60))
    yield service
    service.close()


@pytest.fixture
def tables(fresh: Service) -> AlertStore:
    """The alert tables of `fresh`."""
    return AlertStore(fresh.store)


def poller(service: Service, interval: float = 60) -> Poller:
    return Poller(service, AlertStore(service.store), interval=interval, rng=random.Random(7))


def follow(service: Service, url: str) -> int:
    return add_feed(AlertStore(service.store), url, added_by="test")[0]


@asynccontextmanager
async def plain_bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    """A bare `telegram.Bot` on the fake server: no rate limiter, so every error reaches us."""
    async with Bot(TOKEN, base_url=fake.base_url, request=loopback_request()) as bot:
        yield bot


@asynccontextmanager
async def running(
    fake: FakeBotAPI, service: Service, settings: Settings, **options: Any
) -> AsyncIterator[tuple[Application, AlertsRuntime]]:
    """The bot built by build_application plus our alerts, polling the fake server."""
    app = build_application(
        service,
        settings,
        request=loopback_request(),
        get_updates_request=loopback_request(1),
        alert_ticks=options,
    )
    runtime = app.bot_data.alerts  # the runtime build_application made
    async with polling(app, ALLOWED_KINDS):
        yield app, runtime


async def say(fake: FakeBotAPI, chat: int, user: int, text: str) -> Call:
    since = len(fake.sent)
    fake.send_text(chat, user, text)
    return await fake.wait_for_async(
        lambda c: c.method == "sendMessage" and c.chat_id == chat, timeout=15, since=since
    )


def bot_settings(fake: FakeBotAPI, data: Path, feeds_file: Path | None = None) -> Settings:
    return Settings(
        data_dir=data,
        telegram_bot_token=TOKEN,
        telegram_api_url=fake.base_url,
        admin_ids=frozenset({ADMIN}),
        poll_interval=1,
        feeds_file=feeds_file,
    )


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        api.add_private_chat(ADMIN, "Ada", "ada")
        api.add_private_chat(CAROL, "Carol", "carol")
        members = {ALICE: "administrator", BOB: "member", ADMIN: "member"}
        api.add_group(GROUP, "Pokrovsk watchers", members)
        api.add_group(OTHER_GROUP, "Selydove news", {ALICE: "creator"})
        api.add_group(THIRD_GROUP, "Donbas desk", {ALICE: "creator"})
        yield api
    assert api.internal_errors == []


# --------------------------------------------------------------------------- the schema


def sqlite_objects(store: Store) -> dict[str, set[str]]:
    rows = store.db.query("SELECT type, name FROM sqlite_master")
    return {
        kind: {r["name"] for r in rows if r["type"] == kind}
        for kind in ("table", "index", "trigger")
    }


def test_fresh_database_has_the_schema_it_had_before_the_alerts_moved(tmp_path: Path) -> None:
    store = Store(tmp_path / "fresh.db")
    AlertStore(store)
    objects = sqlite_objects(store)
    assert objects["table"] == {
        "_migrations", "documents", "chunks", "chunks_fts", "chunks_fts_config",
        "chunks_fts_data", "chunks_fts_docsize", "chunks_fts_idx", "ingest_runs",
        "ingest_errors", "sqlite_sequence", "feeds", "chats", "subscriptions", "alerts",
        "alert_inbox", "chunk_vectors", "chunk_sentences", "store_changes", "figures",
        "figure_scans",
    }  # fmt: skip
    assert {"idx_alerts_due", "idx_alerts_sent_at", "idx_subscriptions_kind"} <= objects["index"]
    counted = {
        f"{t}_{e}_counted"
        for t in ("documents", "chunks", "chunk_vectors", "chunk_sentences")
        for e in ("insert", "update", "delete")
    }
    assert objects["trigger"] == {
        "chunks_ai",
        "chunks_ad",
        "chunks_au",
        "documents_alert_inbox",
        *counted,
    }
    applied = {
        tuple(r.values()) for r in store.db.query("SELECT migration_set, name FROM _migrations")
    }
    assert applied == {
        (m.name, name) for m in (migrations.MIGRATIONS, alert_migrations.MIGRATIONS)
        for name in m.names()
    }  # fmt: skip
    store.close()


def old_database(path: Path) -> None:
    """A database as it was when the alert tables were corpus migrations, with old times,
    and the one shared list of migration names of that time."""
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied TEXT)")
    steps = {
        (m.name, name): fn
        for m in (migrations.MIGRATIONS, alert_migrations.MIGRATIONS)
        for name, fn in m.steps
    }
    for name in ["m001_documents", "m002_chunks", "m003_feeds", "m004_ingest_runs",
                 "m005_subscriptions", "m006_alerts", "m007_stamps_in_milliseconds"]:  # fmt: skip
        migration_set, (new_name,) = LEGACY[name]
        steps[migration_set, new_name](db, migrations.SQLITE)
        db.execute("INSERT INTO _migrations VALUES (?, '2025-03-01T09:00:00.000')", [name])
    db.execute("INSERT INTO feeds (url, added) VALUES ('https://e.org/rss', '2025-03-01T10:00:00')")
    db.execute(
        "INSERT INTO chats (chat_id, type, created, updated, last_sent) "
        "VALUES (-1, 'group', '2025-03-01T10:00:01', '2025-03-01T10:00:02.345', '2025-03-02')"
    )
    db.conn.close()


def test_alert_migrations_on_an_old_database(tmp_path: Path) -> None:
    old_database(tmp_path / "old.db")
    store = Store(tmp_path / "old.db")
    AlertStore(store)  # m003, m005 and m006 ran under the old names already: only m008 runs
    rows = store.db.query("SELECT * FROM _migrations")
    stamps = {(r["migration_set"], r["name"]): r["applied"] for r in rows}
    assert set(stamps) == {
        (m.name, name) for m in (migrations.MIGRATIONS, alert_migrations.MIGRATIONS)
        for name in m.names()
    }  # fmt: skip
    assert stamps["alerts", "m003_alerts"] == "2025-03-01T09:00:00.000"
    assert stamps["alerts", "m004_alert_stamps_in_milliseconds"] != "2025-03-01T09:00:00.000"
    assert store.db.scalar("SELECT added FROM feeds") == "2025-03-01T10:00:00.000"
    chat = store.db.query("SELECT created, updated, last_sent FROM chats")[0]
    # Written to the second: milliseconds added; already in milliseconds, or a day: as it was.
    assert chat == {
        "created": "2025-03-01T10:00:01.000",
        "updated": "2025-03-01T10:00:02.345",
        "last_sent": "2025-03-02",
    }
    AlertStore(store)  # opening again changes nothing
    assert store.db.scalar("SELECT added FROM feeds") == "2025-03-01T10:00:00.000"
    store.close()


# ------------------------------------------------------------------- parsing and the rules


def test_items_become_places_keywords_or_topics() -> None:
    gaz = Gazetteer.default()
    items, problems = subs.parse_items(
        "Myrnohrad, Селидове, Dimitrov, lithium deposit, Мирноград, "
        "drones hitting trucks on the highway, topic: strikes on logistics, roads, bridges",
        gaz,
    )
    kinds = [(i.kind, i.normalized) for i in items]
    assert kinds == [
        ("place", "myrnohrad"),  # Dimitrov (the former name) and Мирноград are duplicates of it
        ("place", "selydove"),
        ("keyword", "lithium deposit"),
        ("topic", "drones hitting trucks on the highway"),  # more than three words
        ("topic", "strikes on logistics roads bridges"),  # after topic: commas stay inside
    ]
    assert not problems
    items, problems = subs.parse_items("x" * 101 + ", a, ,  , Покровськ", gaz)
    assert [(i.kind, i.normalized) for i in items] == [("place", "pokrovsk")]
    assert [p.reason for p in problems] == [
        "longer than 100 characters",
        "a keyword needs at least 3 letters",
    ]


def test_who_may_change_a_chats_subscriptions() -> None:
    assert subs.may_manage("supergroup", ALICE, "administrator", set())
    assert subs.may_manage("group", ALICE, "creator", set())
    assert not subs.may_manage("supergroup", BOB, "member", set())
    assert not subs.may_manage("supergroup", BOB, "left", set())
    assert subs.may_manage("supergroup", ADMIN, "member", {ADMIN})  # bot admins
    assert subs.may_manage("private", CAROL, None, set())
    assert not subs.needs_member_check("supergroup", ADMIN, {ADMIN})
    assert subs.needs_member_check("supergroup", BOB, {ADMIN})


def test_limits_listing_and_removal(tables: AlertStore) -> None:
    chat = group_ref()
    words = [f"keyword{n:02d}" for n in range(subs.MAX_SUBSCRIPTIONS + 2)]
    result = subs.subscribe(tables, None, chat, ALICE, ", ".join(words))
    assert len(result.added) == subs.MAX_SUBSCRIPTIONS and len(result.over_limit) == 2
    assert "reached 50 subscriptions" in result.message()
    again = subs.subscribe(tables, None, chat, ALICE, "keyword00")
    assert again.existing and "Already subscribed" in again.message()
    removed = subs.unsubscribe(tables, chat.chat_id, "2 4")
    assert removed == "Removed “keyword01” (keyword), “keyword03” (keyword). 48 subscriptions left."
    assert "No subscription number 99" in subs.unsubscribe(tables, chat.chat_id, "99")
    listing = subs.format_list(tables, chat.chat_id)
    assert listing.startswith("1. “keyword00” (keyword)\n2. “keyword02” (keyword)")
    assert "48 subscriptions left" not in subs.unsubscribe(tables, chat.chat_id, "all")
    assert tables.subscription_count(chat.chat_id) == 0


def test_keywords_match_whole_words_in_latin_and_cyrillic() -> None:
    index = KeywordIndex(["lithium", "mine", "lithium deposit", "родовище", "обстріл", "дрон"])

    def found(text: str) -> set[str]:
        return set(index.find(fold(text)))

    assert found("A Lithium deposit near the village") == {"lithium", "lithium deposit"}
    assert found("Lithium-ion batteries") == {"lithium"}
    assert found("two coal mines closed; the mine's shafts flooded") == {"mine"}
    assert found("a minefield; to determine; undermined") == set()
    assert found("lithiumoxide and prelithium") == set()
    assert found("біля родовища літію") == {"родовище"}  # case ending of a 5+ letter word
    assert found("під обстрілами") == {"обстріл"}
    assert found("обстрілювати") == set()  # more than three extra letters: another word
    assert found("ДРОН над містом") == {"дрон"}
    assert found("дрони над містом") == set()  # short words match exactly


def test_places_match_any_spelling_through_the_gazetteer(
    fresh: Service, tables: AlertStore
) -> None:
    subs.subscribe(tables, None, group_ref(), ALICE, "Myrnohrad, Selydove")
    matcher = Matcher(tables, fresh.embedder)
    matcher.refresh()

    def places(text: str) -> set[str]:
        hits = matcher.match(DocText(1, "Report", text)).get(GROUP, [])
        return {h.sub.normalized for h in hits}

    assert places("У Мирнограді лишилося 3000 людей") == {"myrnohrad"}
    assert places("Russia claims Dimitrov and Selidovo") == {"myrnohrad", "selydove"}
    assert places("the Selydovetskyi district and Myrnohradskyi") == set()


@pytest.mark.model
def test_topic_matches_on_topic_document_only(fresh: Service, tables: AlertStore) -> None:
    report = fresh.ingest(
        [
            str(SAMPLE / "2025-01-14-metinvest-coking-coal-mine.md"),
            str(SAMPLE / "2024-07-08-distractor-kyiv-childrens-hospital.md"),
            str(SAMPLE / "2025-01-08-lithium-shevchenko-target.md"),
        ]
    )
    assert len(report.added) == 3
    subs.subscribe(tables, fresh.embedder, group_ref(), ALICE, "topic: coal mine closure")
    matcher = Matcher(tables, fresh.embedder)
    matcher.refresh()
    rows = fresh.store.db.query("SELECT id, title, text, ext_id FROM documents ORDER BY id")
    docs = [DocText(r["id"], r["title"], r["text"]) for r in rows]
    vectors = matcher.document_vectors(docs)
    assert vectors is not None
    matched = {
        r["ext_id"] for r, d, v in zip(rows, docs, vectors, strict=True) if matcher.match(d, v)
    }
    assert matched == {"sample-metinvest-coking-coal-mine"}


# ----------------------------------------------------------------------------------- polling


def test_conditional_get_second_poll_is_304_and_ingests_nothing(
    hash_embedder: HashEmbedder, fresh: Service, server: LocalServer
) -> None:
    url = serve(
        server, [entry("a", "Shelling near Kyiv", "Nothing about the sector.", server)], '"v1"'
    )
    follow(fresh, url)
    p = poller(fresh)
    first = p.poll()
    assert first is not None and first.feeds[0].status == "changed" and first.feeds[0].seeded
    assert fresh.store.db.query("SELECT etag FROM feeds")[0]["etag"] == '"v1"'
    second = p.poll(force=True)
    assert second is not None and second.feeds[0].status == "not-modified"
    assert second.added == [] and second.reindex is None
    assert server.hits("/feed.xml") == 2
    assert server.requests[-1][1]["if-none-match"] == '"v1"'
    assert fresh.store.db.scalar("SELECT count(*) FROM documents") == 1
    not_due = p.poll()  # the next poll is an interval away
    assert not_due is not None and not_due.feeds == [] and server.hits("/feed.xml") == 2


def test_failing_feed_backs_off_exponentially_then_recovers(
    hash_embedder: HashEmbedder, fresh: Service, server: LocalServer
) -> None:
    server.set("/feed.xml", "boom", "text/plain", status=500)
    follow(fresh, server.url("/feed.xml"))
    p = poller(fresh, interval=600)
    now, delays = 1_000_000.0, []
    for _ in range(9):
        report = p.poll(now=now)
        assert report is not None and report.feeds[0].status == "error"
        next_poll = parse_stamp(report.feeds[0].next_poll)
        delays.append(next_poll - now)
        now = next_poll
    row = fresh.store.db.query("SELECT failures, last_error FROM feeds")[0]
    assert row["failures"] == 9 and "HTTP 500" in row["last_error"]
    for n, delay in enumerate(delays, start=1):
        expected = min(600 * 2**n, MAX_BACKOFF)
        assert expected * 0.9 <= delay <= expected * 1.1, (n, delay)
    assert delays[-1] <= MAX_BACKOFF * 1.1
    assert next_delay(600, 0, random.Random(1)) < 700
    serve(server, [entry("a", "Back", "Working again.", server)], '"v1"')
    assert p.poll(now=now).feeds[0].status == "changed"  # type: ignore[union-attr]
    row = fresh.store.db.query("SELECT failures, last_error FROM feeds")[0]
    assert row["failures"] == 0 and row["last_error"] is None


def test_same_entry_again_or_edited_alerts_no_one(
    hash_embedder: HashEmbedder, fresh: Service, tables: AlertStore, server: LocalServer
) -> None:
    subs.subscribe(tables, None, group_ref(), ALICE, "Myrnohrad")
    base = [entry("a", "Quiet day", "Nothing happened.", server)]
    follow(fresh, serve(server, base, '"1"'))
    p = poller(fresh)
    p.poll()  # the backlog: stored, not alerted
    news = entry("m", "Police: 3,000 left", "Поліція: у Мирнограді лишилося 3000 людей.", server)
    serve(server, [*base, news], '"2"')
    assert p.poll(force=True).alerts == 1  # type: ignore[union-attr]
    twin = {**news, "link": server.url("/mirror/m"), "guid": "mirror-m"}  # same text elsewhere
    serve(server, [*base, news, twin], '"3"')
    report = p.poll(force=True)
    assert report is not None and report.added == [] and report.alerts == 0
    edited = {**news, "text": news["text"] + " Updated: evacuation continues in Мирноград."}
    serve(server, [*base, edited], '"4"')
    report = p.poll(force=True)
    assert report is not None and report.feeds[0].updated == 1 and report.alerts == 0
    assert len(alerts(fresh)) == 1
    assert process_inbox(tables, p.matcher).alerts == 0  # nothing left to match


# ----------------------------------------------------------------------------------- sending


def pending(n: int, chat_id: int = GROUP, excerpt: str = "An extract.") -> list[PendingAlert]:
    return [
        PendingAlert(
            i,
            chat_id,
            i,
            "Myrnohrad (place)",
            excerpt,
            0,
            f"Report {i} <about> Myrnohrad & more",
            "Donbas Wire",
            "2025-02-01",
            f"https://example.org/news/{i}?a=1&b=2",
        )
        for i in range(1, n + 1)
    ]


def test_digest_is_split_under_the_telegram_limit_and_escaped() -> None:
    items = pending(40, excerpt="Police said residents were leaving the town. " * 7)
    messages = render_digest(items)
    assert len(messages) > 1
    assert sorted(i for _, ids in messages for i in ids) == [a.id for a in items]
    for text, _ in messages:
        assert len(text.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT
        assert "&lt;about&gt; Myrnohrad &amp; more" in text
        assert 'href="https://example.org/news/' in text and "&amp;b=2" in text
    assert messages[0][0].startswith("<b>🔔 40 new reports</b>")
    assert messages[1][0].startswith("<b>🔔 40 new reports (continued)</b>")


def test_digest_ends_with_the_daily_count_line_when_it_fits() -> None:
    note = "📈 Pokrovsk direction: latest: 59 attacks on 27 Nov 2025 <whole day>."
    ((text, ids),) = render_digest(pending(1), notes=[note])
    assert text.endswith("\n\n📈 Pokrovsk direction: latest: 59 attacks on 27 Nov 2025 "
                         "&lt;whole day&gt;.") and ids == [1]  # fmt: skip
    full = render_digest(pending(40, excerpt="Police said residents were leaving. " * 7))
    ended = render_digest(pending(40, excerpt="Police said residents were leaving. " * 7),
                          notes=["x" * MESSAGE_LIMIT])  # fmt: skip
    assert ended == full  # a line that does not fit is left out; the alerts go as they were


def seed_alerts(service: Service, chats: dict[int, str], docs: int = 1) -> None:
    """Chats subscribed to Myrnohrad and `docs` fresh feed documents naming it, queued."""
    tables = AlertStore(service.store)
    for chat_id, kind in chats.items():
        subs.subscribe(tables, None, ChatRef(chat_id, kind), ALICE, "Myrnohrad")
    from sectorbot.corpus.models import Document

    for n in range(docs):
        service.store.upsert_document(
            Document(
                text=f"Report {n}: у Мирнограді лишилося {3000 + n} людей. {FILLER}",
                title=f"Myrnohrad report {n}",
                url=f"https://example.org/{n}",
                source="Donbas Wire",
                origin_kind="feed",
                origin_ref="test-feed",
            )
        )
    process_inbox(tables, Matcher(tables))


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_429_and_500_are_retried_and_every_alert_arrives_once(
    fresh: Service, tables: AlertStore, fake: FakeBotAPI
) -> None:
    seed_alerts(fresh, {GROUP: "supergroup", OTHER_GROUP: "supergroup", THIRD_GROUP: "supergroup"})
    sender, t0 = Sender(tables, retry_base=10), time.time()
    fake.fail_next("sendMessage", 2, code=429, retry_after=1)
    fake.fail_next("sendMessage", 1, code=500)
    async with plain_bot(fake) as bot:
        first = await sender.send_due(TelegramTransport(bot), now=t0)
        assert first.messages == 0 and first.retried == 3
        assert (
            await sender.send_due(TelegramTransport(bot), now=t0 + 0.5) == type(first)()
        )  # not due yet
        second = await sender.send_due(TelegramTransport(bot), now=t0 + 60)
        assert second.messages == 3
        assert (await sender.send_due(TelegramTransport(bot), now=t0 + 3600)).messages == 0
    for chat_id in (GROUP, OTHER_GROUP, THIRD_GROUP):
        assert len(alert_messages(fake, chat_id)) == 1
    assert {(a["status"], a["attempts"]) for a in alerts(fresh)} == {("sent", 2)}
    assert sorted(r.error_code for r in fake.rejected) == [429, 429, 500]


async def test_restarts_between_steps_lose_nothing_and_repeat_nothing(
    tmp_path: Path, fake: FakeBotAPI
) -> None:
    from sectorbot.corpus.models import Document

    settings = Settings(data_dir=tmp_path / "data")
    first = Service(settings)  # stores a feed document, then "crashes" before matching
    subs.subscribe(AlertStore(first.store), None, group_ref(), ALICE, "Myrnohrad")
    first.store.upsert_document(
        Document(
            text=f"У Мирнограді лишилося 3000 людей. {FILLER}",
            title="Myrnohrad",
            url="https://example.org/m",
            origin_kind="feed",
            origin_ref="feed",
        )
    )
    first.close()
    second = Service(settings)  # matches it, then stops before sending
    tables = AlertStore(second.store)
    assert process_inbox(tables, Matcher(tables)).alerts == 1
    second.close()
    third = Service(settings)
    tables = AlertStore(third.store)
    async with plain_bot(fake) as bot:
        assert (await Sender(tables).send_due(TelegramTransport(bot))).alerts == 1
        assert process_inbox(tables, Matcher(tables)).alerts == 0
        assert (await Sender(tables).send_due(TelegramTransport(bot))).messages == 0
    third.close()
    assert len(alert_messages(fake, GROUP)) == 1


async def test_an_alert_to_a_chat_following_pokrovsk_ends_with_its_daily_count(
    fresh: Service, tables: AlertStore, fake: FakeBotAPI
) -> None:
    from sectorbot.corpus.models import Document

    fresh.store.upsert_document(Document(
        text="Станом на 22:00 27 листопада 2025 року на Покровському напрямку ворог 59 разів "
        "атакував.", title="Зведення", url="https://example.org/genstaff", source="Генштаб",
        published="2025-11-27", origin_kind="text", origin_ref="genstaff",
    ))  # fmt: skip
    seed_alerts(fresh, {GROUP: "supergroup"})  # Myrnohrad lies in the Pokrovsk direction
    sender = Sender(tables, notes_for=fresh.chat_trend_lines)
    async with plain_bot(fake) as bot:
        assert (await sender.send_due(TelegramTransport(bot))).alerts == 1
    (sent,) = alert_messages(fake, GROUP)
    assert sent.plain_text is not None
    assert sent.plain_text.endswith("📈 Pokrovsk direction: latest: 59 attacks on 27 Nov 2025 "
                                    "(as of 22:00).")  # fmt: skip
    # A failure to read the counts costs the line, never the alert.
    broken = Sender(tables, notes_for=lambda *a: 1 / 0)  # type: ignore[arg-type, return-value]
    seed_alerts(fresh, {GROUP: "supergroup", OTHER_GROUP: "supergroup"}, docs=2)  # report 1
    async with plain_bot(fake) as bot:
        assert (await broken.send_due(TelegramTransport(bot))).alerts == 2
    assert "📈" not in (alert_messages(fake, OTHER_GROUP)[0].plain_text or "")


async def test_blocked_or_missing_chat_is_deactivated_and_never_retried(
    fresh: Service, tables: AlertStore, fake: FakeBotAPI
) -> None:
    gone = -1009999999999  # a group Telegram no longer knows: "chat not found"
    seed_alerts(fresh, {CAROL: "private", GROUP: "supergroup", gone: "supergroup"})
    fake.block_chat(CAROL)  # Carol blocked the bot
    fake.block_chat(GROUP)  # the bot was removed from the group
    sender = Sender(tables, retry_base=0.01)
    async with plain_bot(fake) as bot:
        # The three chats are sent to at once: each fails in its own way, whatever the order.
        report = await sender.send_due(TelegramTransport(bot))
        assert sorted(report.deactivated) == sorted([CAROL, GROUP, gone])
        calls = len(fake.rejected)
        assert (await sender.send_due(TelegramTransport(bot), now=time.time() + 7200)).messages == 0
        assert len(fake.rejected) == calls  # never tried again
    assert {a["status"] for a in alerts(fresh)} == {"dead"}
    reasons = {
        r["chat_id"]: r["deactivated_reason"] for r in fresh.store.db.query("SELECT * FROM chats")
    }
    assert "blocked" in reasons[CAROL] and "kicked" in reasons[GROUP]
    assert "chat not found" in reasons[gone].lower()
    seed_alerts(fresh, {}, docs=2)  # new matching documents: inactive chats get nothing
    assert len(alerts(fresh)) == 3
    subs.subscribe(tables, None, ChatRef(CAROL, "private"), CAROL, "lithium")
    assert fresh.store.db.scalar("SELECT active FROM chats WHERE chat_id = ?", [CAROL]) == 1


async def test_long_digest_arrives_in_parts_each_accepted(
    fresh: Service, tables: AlertStore, fake: FakeBotAPI
) -> None:
    seed_alerts(fresh, {GROUP: "supergroup"}, docs=30)
    async with plain_bot(fake) as bot:
        report = await Sender(tables).send_due(TelegramTransport(bot))
    assert report.alerts == 30 and report.messages == len(alert_messages(fake, GROUP)) > 1
    assert fake.rejected == []
    assert len({a["message_id"] for a in alerts(fresh)}) == report.messages


async def test_quiet_hours_and_digest_mode_hold_alerts_back(
    fresh: Service, tables: AlertStore, fake: FakeBotAPI
) -> None:
    chat = group_ref()
    seed_alerts(fresh, {GROUP: "supergroup"})
    assert "23:00–07:00 UTC" in subs.set_quiet(tables, chat, "23-7")
    assert "every 6 h" in subs.set_digest(tables, chat, "6")
    night = (time.time() // 86400 + 1) * 86400 + 2 * 3600  # tomorrow 02:00 UTC
    row = tables.chat(GROUP)
    assert in_quiet_hours(row, night) and not in_quiet_hours(row, night + 6 * 3600)
    assert quiet_until(row, night) == night + 5 * 3600  # 07:00 UTC
    sender = Sender(tables)
    async with plain_bot(fake) as bot:
        assert (await sender.send_due(TelegramTransport(bot), now=night)).skipped_chats == 1
        assert (
            await sender.send_due(TelegramTransport(bot), now=night + 6 * 3600)
        ).alerts == 1  # 08:00
        seed_alerts(fresh, {}, docs=3)  # more news an hour later: the digest waits 6 h
        later = night + 7 * 3600
        row = tables.chat(GROUP)
        assert digest_wait(row, later) == pytest.approx(5 * 3600, abs=2)
        assert (await sender.send_due(TelegramTransport(bot), now=later)).skipped_chats == 1
        assert (
            await sender.send_due(TelegramTransport(bot), now=night + 12 * 3600 + 1)
        ).alerts == 2
    assert len(alert_messages(fake, GROUP)) == 2
    assert "Usage" in subs.set_quiet(tables, chat, "25-3")
    assert subs.set_quiet(tables, chat, "22-6 +2").endswith("22:00–06:00 UTC+2.")


# -------------------------------------------------------------------- the bot, end to end


@pytest.mark.slow
async def test_feed_entry_alerts_subscribed_group_once_across_restart(
    fake: FakeBotAPI, server: LocalServer, tmp_path: Path
) -> None:
    base = [entry("calm", "Calm night in Kyiv", "Nothing about the sector today.", server)]
    url = serve(server, base, '"1"')
    feeds_file = tmp_path / "feeds.txt"
    feeds_file.write_text(f"# feeds\n{url}\n")
    settings = bot_settings(fake, tmp_path / "data", feeds_file)
    service = Service(settings)
    async with running(fake, service, settings, poll_tick=0.2, send_tick=0.2, retry_base=0.05) as (
        _,
        runtime,
    ):
        refused = await say(fake, GROUP, BOB, "/subscribe Myrnohrad")
        assert refused.plain_text == NOT_ALLOWED
        assert runtime.store.subscription_count(GROUP) == 0
        ok = await say(fake, GROUP, ALICE, f"/subscribe@{BOT_USERNAME} Мирноград")
        assert ok.plain_text.startswith("Subscribed to Myrnohrad (place).")
        await say(fake, OTHER_GROUP, ALICE, "/subscribe Selydove, lithium")
        await until(lambda: service.store.db.scalar("SELECT last_ok FROM feeds"))  # the backlog

        fake.fail_next("sendMessage", 1, code=500)  # the first delivery fails: retried
        news = entry(
            "myrnohrad-3000",
            "Police: about 3,000 people remain in Мирноград",
            "Поліція повідомила, що у Мирнограді лишилося близько 3000 людей.",
            server,
        )
        serve(server, [*base, news], '"2"')
        alert = await fake.wait_for_async(
            lambda c: c.chat_id == GROUP and "🔔" in (c.text or ""), timeout=15
        )
        assert news["link"] in [e.get("url") for e in alert.entities if e["type"] == "text_link"]
        assert "Matched: Myrnohrad (place)" in (alert.plain_text or "")
        assert "лишилося близько 3000 людей" in (alert.plain_text or "")
        hits = server.hits("/feed.xml")
        await until(lambda: server.hits("/feed.xml") >= hits + 2)  # two more polls: no repeat
        await asyncio.sleep(0.5)
        assert len(alert_messages(fake, GROUP)) == 1
        assert alert_messages(fake, OTHER_GROUP) == []
        assert [r.error_code for r in fake.rejected] == [500]
        assert runtime.sender.store.corpus is service.store
    service.close()

    service = Service(settings)  # the restart: same data directory, new everything
    twin = {**news, "link": server.url("/mirror/3000"), "guid": "mirror-3000"}
    later = entry("myrnohrad-water", "Water cut in Мирноград", "У Мирнограді немає води.", server)
    serve(server, [*base, news, twin, later], '"3"')
    async with running(fake, service, settings, poll_tick=0.2, send_tick=0.2) as (_, runtime):
        second = await fake.wait_for_async(
            lambda c: c.chat_id == GROUP and "Water cut" in (c.text or ""), timeout=15
        )
        assert "Police: about 3,000" not in (second.text or "")
        hits = server.hits("/feed.xml")
        await until(lambda: server.hits("/feed.xml") >= hits + 2)
        await asyncio.sleep(0.5)
        assert len(alert_messages(fake, GROUP)) == 2
        status = await say(fake, ADMIN, ADMIN, "/alertstatus")
        assert "sent in the last 24 h 2" in (status.plain_text or "")
        assert "Donbas Wire" in (status.plain_text or "")
        denied = await say(fake, GROUP, BOB, "/alertstatus")
        assert "administrators" in (denied.plain_text or "")
    assert [(a["chat_id"], a["status"]) for a in alerts(service)] == [(GROUP, "sent")] * 2
    service.close()


async def test_slow_poll_does_not_block_answers(
    hash_embedder: HashEmbedder, fake: FakeBotAPI, server: LocalServer, tmp_path: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "data")
    service = Service(settings)
    url = server.set("/slow.xml", rss([entry("s", "Slow", "Slow feed.", server)]),
                     "application/rss+xml", delay=2.0)  # fmt: skip
    follow(service, url)
    async with running(fake, service, settings, poll_tick=3600, send_tick=3600) as (_, runtime):
        poll = asyncio.create_task(runtime.poll_once(force=True))
        await until(lambda: server.hits("/slow.xml") >= 1)  # the poll waits on the slow feed
        started = time.monotonic()
        reply = await say(fake, GROUP, ALICE, "/subscriptions")
        assert "no subscriptions" in (reply.plain_text or "")
        assert time.monotonic() - started < 1.0
        assert runtime.poller.busy and not poll.done()  # answered while the poll runs
        await poll
    service.close()


def test_cli_feeds_and_poll(
    hash_embedder: HashEmbedder, server: LocalServer, isolated_env: Path
) -> None:
    from sectorbot.bot.cli.main import cli

    base = [entry("calm", "Calm night", "Nothing about the sector today.", server)]
    url = serve(server, base, '"1"')
    runner = CliRunner()
    added = runner.invoke(cli, ["feeds", "add", url])
    assert added.exit_code == 0, added.output
    assert added.output == f"feed 1: added: {url}\n"
    assert "already followed" in runner.invoke(cli, ["feeds", "add", url]).output
    first = runner.invoke(cli, ["poll"])
    assert first.exit_code == 0, first.output
    assert "feed 1: 1 new, 0 updated (first poll: stored without alerts)" in first.output
    assert "+ " in first.output and "Calm night" in first.output
    service = Service(Settings(data_dir=isolated_env))
    subs.subscribe(AlertStore(service.store), None, group_ref(), ALICE, "Myrnohrad")
    service.close()
    news = entry("m", "3,000 remain in Myrnohrad", "Police said 3,000 remain in Myrnohrad.", server)
    serve(server, [*base, news], '"2"')
    second = runner.invoke(cli, ["poll", "--all"])
    assert "1 new document, 0 failed, 1 alert queued" in second.output, second.output
    listing = runner.invoke(cli, ["feeds", "list"])
    assert "title:     Donbas Wire" in listing.output and "(ok)" in listing.output
    assert runner.invoke(cli, ["feeds", "remove", "1"]).output == "feed 1 removed\n"
    assert runner.invoke(cli, ["feeds", "remove", "1"]).exit_code == 1
    assert "No feeds" in runner.invoke(cli, ["feeds", "list"]).output


def test_one_feed_listing_serves_telegram_and_the_cli(
    hash_embedder: HashEmbedder, server: LocalServer, isolated_env: Path
) -> None:
    from sectorbot.bot.cli.main import cli

    service = Service(Settings(data_dir=isolated_env))
    runtime = AlertsRuntime.open(service, service.settings)
    ok = runtime.add_feed(serve(server, [entry("a", "Calm", "Nothing new.", server)], '"1"'), "t")
    failing = runtime.add_feed(server.url("/gone.xml"), "test")  # the server answers 404
    dropped = runtime.add_feed(server.url("/dropped.xml"), "test")
    runtime.remove_feed(dropped[0])
    runtime.poll(force=True)
    rows = runtime.list_feeds()
    status = runtime.status()
    service.close()
    assert [r["id"] for r in rows] == [ok[0], failing[0]]
    assert status.feeds == rows

    cli_lines = CliRunner().invoke(cli, ["feeds", "list"]).output.splitlines()
    shown = {  # what each front end shows of the two feeds
        "sectorbot feeds list": [line.split()[0] for line in cli_lines if line[:3].strip()],
        "/feeds": [line.split()[0] for line in render_feeds(rows).splitlines() if line[:1] == "#"],
        "/alertstatus": [line.split(".")[0] for line in render_status(status).splitlines()[1:3]],
    }
    assert shown == {
        "sectorbot feeds list": ["1", "2"],
        "/feeds": ["#1", "#2"],
        "/alertstatus": ["1", "2"],
    }
    error = rows[1]["last_error"]
    assert "HTTP 404" in error and f"     error:     {error} (1 in a row)" in cli_lines
    assert html.escape(error, quote=False) in render_feeds(rows)
    assert html.escape(error, quote=False) in render_status(status)


async def test_usage_replies_and_long_lists_are_accepted_by_telegram(
    fake: FakeBotAPI, fresh: Service, tmp_path: Path
) -> None:
    """Every alert command's reply is valid Telegram HTML and fits, however long it gets."""
    settings = bot_settings(fake, fresh.settings.data_dir)
    async with running(fake, fresh, settings) as (_, runtime):
        for command in ("/unsubscribe", "/digest abc", "/quiet noon", "/subscribe"):
            answer = await say(fake, GROUP, ALICE, command)
            assert "Usage" in answer.params["text"], command
        # The most a chat may hold, each near the longest an item may be: over 4,096 in all.
        words = "counterbattery{0:02d}artillery bombardment{0:02d}observation recon{0:02d}battalion"
        for first in (0, 25):
            items = ", ".join(words.format(n) for n in range(first, first + 25))
            added = await say(fake, GROUP, ALICE, f"/subscribe {items}")
            assert f"now has {first + 25} subscriptions" in added.params["text"]
        for n in range(60):
            runtime.add_feed(f"https://feeds.example.org/{'long-path-' * 8}{n}.xml", "test")
        since = len(fake.sent)
        fake.send_text(GROUP, ALICE, "/subscriptions")
        fake.send_text(ADMIN, ADMIN, "/alertstatus")
        await until(lambda: len(fake.messages_to(GROUP)) and len(fake.sent) - since >= 4)
        await asyncio.sleep(0.5)
    assert fake.rejected == []
    listing = [c for c in fake.sent[since:] if c.chat_id == GROUP]
    status = [c for c in fake.sent[since:] if c.chat_id == ADMIN]
    assert len(listing) >= 2 and len(status) >= 2  # each split below 4,096 characters
