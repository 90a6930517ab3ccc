import json
import subprocess
from pathlib import Path

import pytest

from sectorbot.corpus.fetch import Fetcher
from sectorbot.corpus.ingest import ingest
from sectorbot.corpus.models import scoped_id
from sectorbot.corpus.store import Store
from tests.commands import SECTORBOT
from tests.conftest import ROOT, SAMPLE
from tests.httpserver import LocalServer

ARTICLE = "\n\n".join(
    f"Paragraph {i}: Ukrainian units near Myrnohrad reported heavy shelling and drone strikes "
    "on supply roads, while evacuation buses left the city for Pavlohrad."
    for i in range(12)
)
FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Front feed</title>
<item><title>Shelling near Selydove</title><link>{link}</link><guid>f-1</guid>
<pubDate>Mon, 14 Oct 2024 08:00:00 GMT</pubDate><description>{body}</description></item>
</channel></rss>"""


def make_folder(folder: Path) -> None:
    (folder / "sub").mkdir(parents=True)
    (folder / "good.md").write_text(
        "---\ntitle: Myrnohrad update\nsource: Example News\ndate: 2025-08-01\n"
        "url: https://example.org/myrnohrad\n---\n" + ARTICLE
    )
    (folder / "sub" / "note.txt").write_text("Pokrovsk residents queue for water. " * 30)
    (folder / "feed.xml").write_text(
        FEED.format(link="https://example.org/s", body="Selydove " * 90)
    )
    (folder / "posts.jsonl").write_text(
        json.dumps({"id": "x:1", "title": "Kurakhove", "source": "ISW", "url": None,
                    "published": "2025-01-06T10:00:00", "lang": "en",
                    "text": "Kurakhove fighting continued. " * 30}) + "\n"
        + '{"id": "x:2", "title": "bad date", "published": "yesterday", "text": "text"}\n'
    )  # fmt: skip
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage")
    (folder / "empty.md").write_text("")
    (folder / "broken-feed.xml").write_text("<?xml version='1.0'?><rss><channel><item><title>")
    (folder / "junk.txt").write_bytes(bytes(range(256)) * 20)


def test_good_items_go_in_and_each_bad_one_is_named(store: Store, tmp_path: Path) -> None:
    make_folder(tmp_path / "in")
    report = ingest(store, [str(tmp_path / "in")], Fetcher(timeout=1))
    assert len(report.added) == 4
    failed = {Path(e.ref.split("#")[0]).name: e.reason for e in report.failed}
    assert set(failed) == {"posts.jsonl", "broken.pdf", "empty.md", "broken-feed.xml", "junk.txt"}
    assert "invalid date" in failed["posts.jsonl"]
    assert "empty" in failed["empty.md"]
    assert "PDF" in failed["broken.pdf"]
    assert all("\n" not in reason for reason in failed.values())
    runs = store.db.query("SELECT * FROM ingest_runs")
    assert runs[0]["added"] == 4 and runs[0]["failed"] == 5
    assert store.db.scalar("SELECT count(*) FROM ingest_errors") == 5

    again = ingest(store, [str(tmp_path / "in")], Fetcher(timeout=1))
    assert (len(again.added), len(again.updated), len(again.unchanged)) == (0, 0, 4)
    assert store.db.scalar("SELECT count(*) FROM documents") == 4


def test_urls_and_feeds_from_a_local_server(store: Store) -> None:
    page = (
        f"<html><head><title>Myrnohrad</title></head><body><article><h1>Myrnohrad</h1>"
        f"{''.join(f'<p>{p}</p>' for p in ARTICLE.split(chr(10) * 2))}</article></body></html>"
    )
    with LocalServer() as server:
        server.set("/article", page)
        server.set("/feed", FEED.format(link=server.url("/article"), body="Selydove teaser"),
                   "application/rss+xml")  # fmt: skip
        # The article is on 127.0.0.1, which links from feeds reach only when allowed.
        fetcher = Fetcher(timeout=2, allow_private=True)
        report = ingest(store, [server.url("/feed"), server.url("/missing")], fetcher)
        assert len(report.added) == 1
        assert "404" in report.failed[0].reason
        text = store.db.scalar("SELECT text FROM documents")
        assert "evacuation buses" in text  # the full page, not the teaser
        assert server.hits("/article") == 1


def test_sample_corpus_ingests_cleanly(store: Store) -> None:
    report = ingest(store, [str(SAMPLE)])
    assert report.ok, report.failed
    assert len(report.added) >= 36
    assert store.db.scalar("SELECT count(*) FROM documents WHERE source = '' OR url IS NULL") == 0


@pytest.mark.slow
def test_cli_ingest_twice_reports_unchanged(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SECTORBOT, "--data-dir",
             str(tmp_path / "d"), "ingest", "--no-index", *args],
            capture_output=True, text=True, cwd=ROOT,
        )  # fmt: skip

    first = run(str(SAMPLE))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("added ")
    second = run(str(SAMPLE))
    n = len(list(SAMPLE.glob("*.md")))
    assert f"added 0, updated 0, unchanged {n}, failed 0" in second.stdout
    make_folder(tmp_path / "bad")
    third = run(str(tmp_path / "bad"))
    assert third.returncode == 1
    assert "failed: " in third.stdout and "broken.pdf" in third.stdout


def test_folder_notes_are_skipped_and_bulk_ids_are_identities(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "bulk"
    folder.mkdir()
    (folder / "SOURCES.md").write_text("# Where these files came from\n\nPokrovsk, Myrnohrad.")
    line = {"title": "Same page", "source": "X", "url": "https://example.org/same",
            "published": None, "lang": "en"}  # fmt: skip
    (folder / "a.jsonl").write_text(
        json.dumps({**line, "id": "a:1", "text": "First copy about Selydove. " * 20}) + "\n"
        + json.dumps({**line, "id": "a:2", "text": "Second text about Kurakhove. " * 20}) + "\n"
    )  # fmt: skip
    report = ingest(store, [str(folder)])
    assert report.ok and len(report.added) == 2
    ids = [r["ext_id"] for r in store.db.query("SELECT ext_id FROM documents ORDER BY id")]
    assert ids == [scoped_id("jsonl", "X", "a:1"), scoped_id("jsonl", "X", "a:2")]
    named = ingest(store, [str(folder / "SOURCES.md")])  # named explicitly, it is ingested
    assert len(named.added) == 1


def test_text_of_only_invisible_characters_is_no_report(tmp_path: Path) -> None:
    from sectorbot.corpus.ingest import IngestReport, store_documents
    from sectorbot.corpus.models import Document
    from sectorbot.corpus.text import has_visible_text

    assert not has_visible_text("\u200b\u2060\ufeff\u200e\u200f\u202a\u202c\u2066\u2069 \t\n")
    assert not has_visible_text("\u3164\u115f\u2800\u0301\x00\x1b")
    assert has_visible_text("\u200bМирноград\u200b") and has_visible_text("\u200b7")
    store = Store(tmp_path / "s.db")
    try:
        report = IngestReport()
        docs = [
            Document(text="\u200b\u2060\ufeff", title="\u200b", origin_ref="blank.md"),
            Document(text="Power returned to Myrnohrad.", title="Power", origin_ref="ok.md"),
        ]
        store_documents(store, docs, report)
        assert [f.ref for f in report.failed] == ["blank.md"]
        assert [f.reason for f in report.failed] == ["no text"]
        assert store.document_count() == 1
    finally:
        store.close()
