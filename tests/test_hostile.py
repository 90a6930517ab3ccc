"""Hostile input and faults on the corpus side: each test is a probe that once did harm.

Feeds, JSONL files, Telegram exports and web pages are written by people who may want to
overwrite other sources' documents, make the bot fetch its own network, hang ingestion with
markup that makes a regex backtrack, or lose the rest of a file with one bad item. All
network traffic stays on loopback addresses (LocalServer on 127.0.0.1 and 127.0.0.2).
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sectorbot.bot.alerts.poller import Poller, add_feed
from sectorbot.bot.errors import SettingsError
from sectorbot.bot.ops.transfer import export, import_lines
from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings, load_settings
from sectorbot.corpus.chunking import chunk_text
from sectorbot.corpus.dates import parse_date
from sectorbot.corpus.errors import FetchError, LoadError
from sectorbot.corpus.fetch import Fetcher
from sectorbot.corpus.ingest import ingest
from sectorbot.corpus.loaders import load
from sectorbot.corpus.loaders.feeds import MAX_LINK_FETCHES, parse_feed
from sectorbot.corpus.loaders.html import html_to_text
from sectorbot.corpus.loaders.jsonl import parse_jsonl
from sectorbot.corpus.loaders.markdown import (
    clean_body,
    decode_text,
    parse_markdown,
    split_front_matter,
)
from sectorbot.corpus.loaders.pdf import reflow
from sectorbot.corpus.loaders.telegram_export import parse_telegram_json
from sectorbot.corpus.models import Document, ItemFailure, local_id
from sectorbot.corpus.network import public_address_problem
from sectorbot.corpus.store import Store
from sectorbot.corpus.text import fold_diacritics
from sectorbot.corpus.urls import canonical_url
from tests.httpserver import LocalServer

ARTICLE = "\n\n".join(
    f"Paragraph {i}: Ukrainian units near Myrnohrad reported heavy shelling and drone strikes "
    "on supply roads, while evacuation buses left the city for Pavlohrad."
    for i in range(12)
)
PAGE = f"<html><body><article><h1>Myrnohrad</h1><p>{ARTICLE}</p></article></body></html>"
LONG_TEXT = "Shelling continued near Selydove through the night, officials said. " * 12


def rss(items: list[dict[str, str]], title: str = "Front feed") -> str:
    """An RSS document; each item has a guid, a link and a description (its text)."""
    body = "".join(
        f"<item><title>{i.get('title', 'Entry')}</title><link>{i['link']}</link>"
        f'<guid isPermaLink="false">{i["guid"]}</guid>'
        f"<description><![CDATA[{i['text']}]]></description></item>"
        for i in items
    )
    head = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
    return f"{head}{body}</channel></rss>"


def entries(count: int, prefix: str = "g") -> list[dict[str, str]]:
    """`count` entries with full text, so that no link is fetched."""
    return [
        {"guid": f"{prefix}{i}", "link": f"https://a.example/{i}", "text": f"{i} {LONG_TEXT}"}
        for i in range(count)
    ]


def jsonl(count: int, source: str = "ISW", prefix: str = "j") -> str:
    """`count` JSONL lines from `source`."""
    lines = [{"id": f"{prefix}{i}", "source": source, "text": f"{source} {i}: {LONG_TEXT}"}
             for i in range(count)]  # fmt: skip
    return "".join(json.dumps(line) + "\n" for line in lines)


def docs(items: Any) -> list[Document]:
    return [i for i in items if isinstance(i, Document)]


def failures(items: Any) -> list[ItemFailure]:
    return [i for i in items if isinstance(i, ItemFailure)]


def rows(store: Store) -> list[dict[str, Any]]:
    return store.db.query("SELECT id, ext_id, title, text, origin_kind FROM documents ORDER BY id")


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


# ------------------------------------------------ 4, 10. fetching: addresses, redirects, deadline


@pytest.mark.parametrize(
    ("address", "kind"),
    [("127.0.0.1", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
     ("2002:7f00:1::", "loopback"), ("10.1.2.3", "private"), ("172.16.0.9", "private"),
     ("192.168.1.1", "private"), ("::ffff:10.0.0.1", "private"), ("64:ff9b::a00:1", "private"),
     ("fc00::1", "private"), ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
     ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("224.0.0.1", "multicast"),
     ("ff02::1", "multicast"), ("240.0.0.1", "reserved"), ("100.64.0.1", "not a public")],
)  # fmt: skip
def test_non_public_addresses_are_named(address: str, kind: str) -> None:
    assert kind in (public_address_problem(ipaddress.ip_address(address)) or "")


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert public_address_problem(ipaddress.ip_address(address)) is None


def test_link_names_resolving_to_loopback_are_refused(server: LocalServer) -> None:
    server.set("/secret", PAGE)
    with Fetcher(timeout=2) as fetcher:
        for host in ("localhost", "2130706433", "[::ffff:127.0.0.1]"):
            url = f"http://{host}:{server.port}/secret"
            with pytest.raises(FetchError) as caught:
                fetcher.fetch(url, untrusted=True)
            assert str(caught.value).startswith(f"{url}: not fetched: ")
            assert "a loopback address" in str(caught.value)
        # The same fetcher still reaches the operator's own URLs.
        assert fetcher.fetch(server.url("/secret")) is not None
    assert server.hits("/secret") == 1


def _refuse_127_0_0_1(ip: Any) -> str | None:
    """An address check under which 127.0.0.2 stands in for a public host."""
    return "a refused address" if str(ip) == "127.0.0.1" else None


def test_every_redirect_is_checked(server: LocalServer) -> None:
    """A link to an allowed host that redirects to a refused one is not followed there."""
    server.set("/secret", PAGE)
    with LocalServer("127.0.0.2") as other:
        hop = other.redirect("/hop", server.url("/secret"))
        fetcher = Fetcher(timeout=2, address_check=_refuse_127_0_0_1)
        with fetcher, pytest.raises(FetchError) as caught:
            fetcher.fetch(hop, untrusted=True)
        assert other.hits("/hop") == 1
    assert server.hits("/secret") == 0
    assert str(caught.value) == (
        f"{hop}: not fetched: 127.0.0.1 is a refused address; "
        "links from feeds and chat may reach public addresses only"
    )


def test_chat_urls_are_untrusted_when_the_caller_says_so(server: LocalServer) -> None:
    url = server.set("/page", PAGE)
    with Fetcher(timeout=2, trusted=False) as fetcher, pytest.raises(FetchError):
        fetcher.fetch(url)
    with Fetcher(timeout=2, trusted=False, allow_private=True) as fetcher:
        assert fetcher.fetch(url) is not None


def test_a_dripping_server_cannot_outlast_the_fetch_timeout(server: LocalServer) -> None:
    url = server.set("/drip", b"x" * 100, "text/plain", drip=0.1)  # 10 s to send it all
    started = time.perf_counter()
    with Fetcher(timeout=0.5) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    assert time.perf_counter() - started < 2.0
    assert str(caught.value) == f"{url}: timed out after 0.5 s"


def test_the_deadline_covers_every_redirect(server: LocalServer) -> None:
    server.set("/end", "done", "text/plain", delay=0.3)
    server.set("/b", b"", "text/plain", {"Location": "/end"}, status=302, delay=0.3)
    first = server.set("/a", b"", "text/plain", {"Location": "/b"}, status=302, delay=0.3)
    started = time.perf_counter()
    with Fetcher(timeout=0.5) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.fetch(first)
    assert str(caught.value) == f"{first}: timed out after 0.5 s"
    assert time.perf_counter() - started < 2.0
    with Fetcher(timeout=3) as patient:
        got = patient.fetch(first)
    assert got is not None and got.body == b"done" and got.final_url == server.url("/end")


# ------------------------------------------------------------ 9. linear-time text cleaning

# A text 200,000 characters long finishes each step below in well under a second when the
# work grows linearly; a step that grows with the square of a run's length takes minutes.
# The limit sits far from both, so a slow machine passes and a regression fails clearly.
SIZE = 200_000
LIMIT_S = 15.0
UNITS = [" ", "\t", "\n", ".", "!", "?", "…", "#", "*", "-", "=", "_", "`", "|", "~", ">", "<",
         "&", "\"", "'", "(", ")", "[", "]", ". ", "\n ", "# ", "<a ", "</", "<!--", "<!", "<![",
         "&#", "<p>", "A.", "a-", "-\n", ":", "://", "Покровськ ", "x"]  # fmt: skip


def _feed_with(text: str) -> bytes:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        rss([{"guid": "x", "link": "https://a.example/x", "text": ""}])
        .replace("<![CDATA[]]>", escaped)
        .encode("utf-8", "surrogatepass")
    )


STEPS: dict[str, Callable[[str], object]] = {
    "clean_body": lambda t: clean_body("# x" + t + "y"),
    "parse_markdown": lambda t: parse_markdown("---\ntitle: t\n---\n# " + t + "\nend", "r.md"),
    "chunk_text": lambda t: chunk_text("Start. " + t),
    "html_to_text": html_to_text,
    "reflow": reflow,
    "decode_text": lambda t: decode_text(t.encode("utf-8", "surrogatepass")),
    "parse_feed": lambda t: list(parse_feed(_feed_with(t), "f.xml", None)),
    "parse_jsonl": lambda t: list(parse_jsonl(json.dumps({"text": t, "title": t}), "b.jsonl")),
    "front_matter": lambda t: split_front_matter("---\nkey" + t + "\n---\nbody"),
    "parse_date": lambda t: parse_date("2024" + t),
    "canonical_url": lambda t: canonical_url("https://example.org/" + t + "?utm_source=" + t),
    "fold_diacritics": fold_diacritics,
}


def _timed(name: str, step: Callable[[str], object], text: str) -> None:
    started = time.perf_counter()
    with contextlib.suppress(LoadError, ValueError):  # refusing it is fine; minutes are not
        step(text)
    took = time.perf_counter() - started
    assert took < LIMIT_S, f"{name} took {took:.1f} s on {len(text):,} characters"


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(runs=st.lists(st.tuples(st.sampled_from(UNITS), st.floats(0.05, 1)), min_size=1, max_size=4))
@example(runs=[(" ", 1.0)])
@example(runs=[(".", 1.0)])
@example(runs=[("<a ", 1.0)])
@example(runs=[("<!--", 1.0)])
@example(runs=[("-\n", 0.5), ("a-", 0.5)])
@pytest.mark.slow
def test_text_cleaning_is_linear(runs: list[tuple[str, float]]) -> None:
    share = SIZE / sum(weight for _, weight in runs)
    text = "".join(unit * max(1, int(share * weight / len(unit))) for unit, weight in runs)
    for name, step in STEPS.items():
        _timed(name, step, text)


def test_the_probes_markdown_file_and_text_url_ingest_quickly(
    store: Store, tmp_path: Path, server: LocalServer
) -> None:
    probe = "# x" + " " * 6000 + "y"
    path = tmp_path / "probe.md"
    path.write_text(probe)
    url = server.set("/probe.txt", "# x" + " " * SIZE + "z", "text/plain")
    started = time.perf_counter()
    with Fetcher(timeout=5) as fetcher:
        report = ingest(store, [str(path), url], fetcher)
    assert report.ok and len(report.added) == 2
    assert time.perf_counter() - started < LIMIT_S


# ------------------------------------------------------------ 7. UTF-8 with a bad byte


def test_utf8_with_one_invalid_byte_stays_utf8(tmp_path: Path) -> None:
    text = "Покровськ: евакуація триває, ситуація складна. " * 20
    data = text.encode("utf-8")
    cut = data.index(b" ", 100)  # between two characters
    broken = data[:cut] + b"\xff" + data[cut:]
    decoded = decode_text(broken)
    assert decoded.count("Покровськ") == 20 and decoded.count("\ufffd") == 1
    assert "РџРѕРєСЂРѕРІСЃСЊРє" not in decoded
    # Windows-1251 is still read as such, and binary data still refused.
    assert decode_text(text.encode("cp1251")) == text
    with pytest.raises(LoadError):
        decode_text(bytes(range(1, 32)) * 50)


# ------------------------------------------------------------ 3. one source, one namespace


def test_a_feed_guid_cannot_overwrite_another_sources_document(
    store: Store, tmp_path: Path
) -> None:
    bulk = tmp_path / "bulk.jsonl"
    bulk.write_text(jsonl(1, source="Wire", prefix="good"))  # id "good0"
    first = tmp_path / "first.xml"
    first.write_text(rss(entries(1, prefix="")))  # guid "0"
    forged = [
        {"guid": "good0", "link": "https://h.example/1", "text": "Forged 1. " * 90},  # a JSONL id
        {"guid": "0", "link": "https://h.example/2", "text": "Forged 2. " * 90},  # first's guid
        {"guid": "h3", "link": "https://a.example/0", "text": "Forged 3. " * 90},  # first's link
    ]
    hostile = tmp_path / "hostile.xml"
    hostile.write_text(rss(forged, title="Hostile"))
    with Fetcher(timeout=1) as fetcher:
        assert len(ingest(store, [str(bulk), str(first)], fetcher).added) == 2
        report = ingest(store, [str(hostile)], fetcher)
    assert (len(report.added), len(report.updated), len(report.unchanged)) == (2, 0, 1)
    stored = rows(store)
    assert [local_id(r["ext_id"]) for r in stored] == ["good0", "0", "good0", "0"]
    assert [r["text"][:8] for r in stored] == ["Wire 0: ", "0 Shelli", "Forged 1", "Forged 2"]


def test_jsonl_ids_are_scoped_by_their_declared_source(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "two.jsonl"
    path.write_text(jsonl(1, source="ISW") + jsonl(1, source="CNN"))  # both id "j0"
    report = ingest(store, [str(path)])
    assert len(report.added) == 2 and report.ok
    again = ingest(store, [str(path)])
    assert len(again.unchanged) == 2 and not again.added


def test_a_fetched_page_cannot_claim_a_stored_documents_id(
    store: Store, tmp_path: Path, server: LocalServer
) -> None:
    note = tmp_path / "note.md"
    note.write_text("---\nid: report-1\ntitle: Our report\n---\n" + "Pokrovsk holds. " * 30)
    text = "---\nid: report-1\n---\n" + "Pokrovsk fell. " * 30
    page = server.set("/page.txt", text, "text/plain; charset=utf-8")
    with Fetcher(timeout=2) as fetcher:
        assert len(ingest(store, [str(note)], fetcher).added) == 1
        assert len(ingest(store, [page], fetcher).added) == 1
    assert "Pokrovsk holds" in rows(store)[0]["text"]


def test_a_fetched_page_cannot_claim_another_sites_address(
    store: Store, tmp_path: Path, server: LocalServer
) -> None:
    """A canonical link or front-matter url naming another host is not the page's identity."""
    theirs = "https://www.reuters.com/world/europe/pokrovsk-report"
    note = tmp_path / "note.md"
    note.write_text(f"---\ntitle: Reuters report\nurl: {theirs}\n---\n" + "Pokrovsk holds. " * 30)
    body = "".join(f"<p>Pokrovsk fell, says this page, in paragraph {n}.</p>" for n in range(9))
    html = f'<html><head><link rel="canonical" href="{theirs}"></head><body>{body}</body></html>'
    page = server.set("/claim.html", html, "text/html; charset=utf-8")
    text = server.set("/claim.txt", f"---\nurl: {theirs}\n---\n" + "Pokrovsk fell. " * 30,
                      "text/plain; charset=utf-8")  # fmt: skip
    same = server.set("/same.html", html.replace(theirs, server.url("/canonical")), "text/html")
    with Fetcher(timeout=2, allow_private=True) as fetcher:
        assert len(ingest(store, [str(note)], fetcher).added) == 1
        assert len(ingest(store, [page, text, same], fetcher).added) == 3
    by_url = {r["url"]: r["text"] for r in store.db.query("SELECT url, text FROM documents")}
    assert "Pokrovsk holds" in by_url[theirs]
    assert page in by_url and text in by_url  # their own addresses, not the claimed one
    assert server.url("/canonical") in by_url  # a claim on its own host is kept


def _unscope(db_path: Path) -> None:
    """Make the store what versions before corpus m005 (once m012) wrote: bare ids, that
    migration not applied."""
    conn = sqlite3.connect(str(db_path), isolation_level=None)
    for doc_id, ext_id in conn.execute("SELECT id, ext_id FROM documents").fetchall():
        conn.execute("UPDATE documents SET ext_id = ? WHERE id = ?", [local_id(ext_id), doc_id])
    conn.execute(
        "DELETE FROM _migrations WHERE migration_set = 'corpus' AND name = 'm005_namespaced_ids'"
    )
    conn.close()


def test_migration_scopes_bare_ids_so_the_same_inputs_are_found_again(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "feed.xml").write_text(rss(entries(3)))
    (folder / "bulk.jsonl").write_text(jsonl(2))
    db = tmp_path / "store.db"
    store = Store(db)
    assert len(ingest(store, [str(folder)]).added) == 5
    store.close()
    _unscope(db)
    bare = sqlite3.connect(str(db)).execute("SELECT ext_id FROM documents ORDER BY id")
    assert [r[0] for r in bare] == ["j0", "j1", "g0", "g1", "g2"]

    store = Store(db)  # applies m012_namespaced_ids
    try:
        scoped = [r["ext_id"] for r in rows(store)]
        assert [local_id(e) for e in scoped] == ["j0", "j1", "g0", "g1", "g2"]
        assert [e.split(":")[0] for e in scoped] == ["jsonl"] * 2 + ["feed"] * 3
        again = ingest(store, [str(folder)])
        assert (len(again.added), len(again.updated), len(again.unchanged)) == (0, 0, 5)
        assert store.document_count() == 5
    finally:
        store.close()


def _bare_ids(line: str) -> str:
    """An export line as versions before m008 wrote it: feed and JSONL ids without prefix."""
    record = json.loads(line)
    if record.get("ext_id"):
        record["ext_id"] = local_id(record["ext_id"])
    return json.dumps(record)


def test_export_import_keeps_identities_old_exports_included(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "feed.xml").write_text(rss(entries(1)))
    (folder / "bulk.jsonl").write_text(jsonl(1))
    source = Service(Settings(data_dir=tmp_path / "a"))
    try:
        assert len(source.ingest([str(folder)]).added) == 2
        buffer = io.StringIO()
        export(source.settings, buffer)
    finally:
        source.close()
    lines = buffer.getvalue().splitlines()
    for name, export_lines in (("new", lines), ("old", [_bare_ids(line) for line in lines])):
        target = Service(Settings(data_dir=tmp_path / name))
        try:
            assert not import_lines(target, export_lines).failed
            again = target.ingest([str(folder)])
            assert (len(again.added), len(again.unchanged)) == (0, 2), name
        finally:
            target.close()


# ------------------------------------------------------------ 4. links inside feed entries


def test_a_feed_entry_linking_to_loopback_is_stored_from_its_summary(
    store: Store, server: LocalServer
) -> None:
    server.set("/secret", PAGE)
    feed = server.set(
        "/feed.xml",
        rss([{"guid": "a", "link": server.url("/secret"), "text": "Evacuation continues."}]),
        "application/rss+xml",
    )
    with Fetcher(timeout=2) as fetcher:  # the operator's feed on 127.0.0.1 is fetched
        report = ingest(store, [feed], fetcher)
    assert len(report.added) == 1 and report.ok
    assert server.hits("/feed.xml") == 1 and server.hits("/secret") == 0
    assert rows(store)[0]["text"] == "Evacuation continues."


def test_a_feed_entry_redirecting_to_a_refused_address_keeps_its_summary(
    server: LocalServer,
) -> None:
    server.set("/secret", PAGE)
    with LocalServer("127.0.0.2") as other:
        hop = other.redirect("/hop", server.url("/secret"))
        feed = rss([{"guid": "h", "link": hop, "text": "Teaser only."}]).encode()
        with Fetcher(timeout=2, address_check=_refuse_127_0_0_1) as fetcher:
            [doc] = parse_feed(feed, "feed.xml", fetcher)
        assert other.hits("/hop") == 1
    assert server.hits("/secret") == 0
    assert isinstance(doc, Document) and doc.text == "Teaser only."
    assert doc.meta["full_text"].startswith(f"summary only: {hop}: not fetched: 127.0.0.1 is")


def test_link_fetches_are_capped_per_feed_and_run(store: Store, server: LocalServer) -> None:
    count = MAX_LINK_FETCHES + 5
    for i in range(count):
        server.set(f"/a/{i}", PAGE)
    items = [{"guid": f"e{i}", "link": server.url(f"/a/{i}"), "text": f"Teaser {i}."}
             for i in range(count)]  # fmt: skip
    feed = server.set("/feed.xml", rss(items), "application/rss+xml")
    with Fetcher(timeout=2, allow_private=True) as fetcher:
        results = list(load(feed, fetcher, 20_000_000))
    assert sum(server.hits(f"/a/{i}") for i in range(count)) == MAX_LINK_FETCHES
    notes = [d.meta["full_text"] for d in docs(results)]
    assert notes.count("fetched from link") == MAX_LINK_FETCHES
    assert notes.count(f"summary only: over {MAX_LINK_FETCHES} link fetches in one run") == 5


def test_stored_entries_are_not_fetched_again(store: Store, server: LocalServer) -> None:
    server.set("/article", PAGE)
    feed = server.set(
        "/feed.xml",
        rss([{"guid": "a", "link": server.url("/article"), "text": "Teaser."}]),
        "application/rss+xml",
    )
    with Fetcher(timeout=2, allow_private=True) as fetcher:
        assert len(ingest(store, [feed], fetcher).added) == 1
        again = ingest(store, [feed], fetcher)
    assert len(again.unchanged) == 1 and not again.updated
    assert server.hits("/article") == 1
    assert "evacuation buses" in rows(store)[0]["text"]  # the article, not the teaser


def test_polls_do_not_fetch_links_of_stored_entries(tmp_path: Path, server: LocalServer) -> None:
    server.set("/article", PAGE)
    server.set("/feed.xml", rss([{"guid": "a", "link": server.url("/article"), "text": "T."}]),
               "application/rss+xml")  # fmt: skip
    service = Service(Settings(data_dir=tmp_path / "d", allow_private_urls=True))
    try:
        add_feed(service.alert_store, server.url("/feed.xml"))
        poller = Poller(service, service.alert_store)
        [feed] = service.store.db.query("SELECT * FROM feeds")
        with Fetcher(timeout=2, allow_private=True) as fetcher:
            for _ in range(3):
                poller.poll_feed(feed, fetcher, time.time())
    finally:
        service.close()
    assert server.hits("/feed.xml") == 3 and server.hits("/article") == 1


def test_allow_private_urls_setting() -> None:
    assert load_settings({}, dotenv=None).allow_private_urls is False
    for raw, value in (("1", True), ("true", True), ("0", False), ("no", False)):
        env = {"SECTORBOT_ALLOW_PRIVATE_URLS": raw}
        assert load_settings(env, dotenv=None).allow_private_urls is value
    with pytest.raises(SettingsError) as caught:
        load_settings({"SECTORBOT_ALLOW_PRIVATE_URLS": "maybe"}, dotenv=None)
    assert "\n" not in str(caught.value) and "SECTORBOT_ALLOW_PRIVATE_URLS" in str(caught.value)


# ------------------------------------------------------------ 6. one bad item costs itself


def test_a_telegram_post_with_a_strange_date_costs_only_itself() -> None:
    messages = [
        {"id": 1, "type": "message", "date": "2024-08-19T10:00:00", "text": "First post."},
        {"id": 2, "type": "message", "date": {"when": "yesterday"}, "text": "Broken date."},
        {"id": 3, "type": "message", "date": "2024-08-19T12:00:00", "text": "Third post."},
        {"type": "message", "date": "2024-08-19T13:00:00", "text": "No id."},
    ]
    export_json = json.dumps({"name": "Channel", "id": 42, "messages": messages})
    results = list(parse_telegram_json(export_json, "result.json"))
    assert [d.text for d in docs(results)] == ["First post.", "Third post."]
    reasons = [f.reason for f in failures(results)]
    assert reasons[0].startswith("message 2: invalid date") and "\n" not in reasons[0]
    assert reasons[1] == "message 4 has no numeric id"


def test_a_jsonl_line_nested_too_deeply_costs_only_itself(tmp_path: Path) -> None:
    good = json.dumps({"id": "a", "text": "Good line about Pokrovsk."})
    deep = '{"id": "b", "text": ' + "[" * 100_000 + "]" * 100_000 + "}"
    huge_number = '{"id": "c", "text": "x", "n": ' + "9" * 5000 + "}"
    results = list(parse_jsonl("\n".join([good, deep, huge_number, good.replace('"a"', '"d"')]),
                               "bulk.jsonl"))  # fmt: skip
    assert [local_id(d.ext_id or "") for d in docs(results)] == ["a", "d"]
    assert [(f.ref, f.reason) for f in failures(results)] == [
        ("bulk.jsonl#L2", "invalid JSON: nested too deeply"),
        ("bulk.jsonl#L3", failures(results)[1].reason),
    ]
    assert failures(results)[1].reason.startswith("invalid JSON: ")


def test_a_deeply_nested_telegram_export_is_one_clear_failure() -> None:
    [failure] = parse_telegram_json("[" * 100_000 + "]" * 100_000, "result.json")
    assert failure == ItemFailure("result.json", "broken JSON: nested too deeply")
