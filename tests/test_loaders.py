"""Loaders, the fetcher and date parsing, on inputs the tests write themselves.

The only network used is a LocalServer on 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sectorbot.corpus.dates import parse_date
from sectorbot.corpus.errors import FetchError
from sectorbot.corpus.fetch import Fetcher
from sectorbot.corpus.loaders import iter_targets, load
from sectorbot.corpus.loaders.feeds import parse_feed
from sectorbot.corpus.loaders.html import html_to_text
from sectorbot.corpus.models import Document, ItemFailure, local_id, scoped_id
from tests.httpserver import LocalServer

MAX = 20_000_000


# ---------------------------------------------------------------- fixtures and builders


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(timeout=2.0) as f:
        yield f


def run(target: str | Path, fetcher: Fetcher, max_bytes: int = MAX, **kw: str) -> list:
    return list(load(str(target), fetcher, max_bytes, **kw))


def docs_of(results: list) -> list[Document]:
    return [r for r in results if isinstance(r, Document)]


def errors_of(results: list) -> list[ItemFailure]:
    return [r for r in results if isinstance(r, ItemFailure)]


def only_error(results: list) -> str:
    assert len(results) == 1 and isinstance(results[0], ItemFailure), results
    return results[0].reason


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


EN_PARAGRAPHS = [
    "Russian forces continued their advance towards Pokrovsk on Monday, according to the "
    "General Staff of the Armed Forces of Ukraine, which reported dozens of assaults along "
    "the axis and heavy fighting near the villages south-east of the city.",
    "The regional military administration announced a mandatory evacuation of families with "
    "children from the city and several nearby villages, citing daily shelling of residential "
    "areas and the destruction of power lines.",
    "Military analysts said the fall of the town would threaten a key logistics route used to "
    "supply Ukrainian units across the Donetsk region, and that the coming weeks would be "
    "decisive for the defence of the sector.",
]
UK_PARAGRAPHS = [
    "Російські війська продовжують наступ на Покровськ, повідомляє Генеральний штаб Збройних "
    "сил України. За минулу добу на Покровському напрямку відбулося понад сорок боєзіткнень.",
    "Обласна військова адміністрація оголосила обовʼязкову евакуацію родин з дітьми з міста "
    "та кількох сусідніх громад через щоденні обстріли житлових кварталів.",
    "Аналітики зазначають, що втрата міста ускладнить логістику українських підрозділів на "
    "Донеччині, тому найближчі тижні стануть вирішальними для оборони напрямку.",
]


def article_html(paragraphs: list[str], title: str = "Pokrovsk update", lang: str = "en") -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title} - Example News</title>
<link rel="canonical" href="https://example.org/news/pokrovsk-update">
<meta name="author" content="Olena Petrenko">
<meta property="og:site_name" content="Example News">
<meta property="article:published_time" content="2024-08-19T10:00:00Z">
</head><body><nav><a href="/">Home</a> | <a href="/world">World</a></nav>
<article><h1>{title}</h1>
{body}
</article><footer>Copyright Example News</footer></body></html>"""


def make_pdf(lines: list[str], **info: str) -> bytes:
    """A one-page PDF with Helvetica text and a correct xref table, built by hand."""
    ops = ["BT", "/F1 11 Tf", "72 720 Td", "14 TL"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    info_dict = " ".join(f"/{key} ({value})" for key, value in info.items())
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        f"<< {info_dict} >>".encode("latin-1"),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (len(objects) + 1, len(objects))
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


PDF_LINES = [
    "Situation report on the Pokrovsk direction, prepared for the weekly brief-",
    "ing of the regional administration. Civilians continue the evac-",
    "uation from the city.",
    "Second paragraph: the Russian-",
    "Ukrainian front line moved two kilometres west of Selydove during the week.",
]


def rss(items: str, title: str = "Front Line Daily") -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>{title}</title><link>https://frontline.example/</link>
<language>en-gb</language>{items}</channel></rss>"""


def rss_item(title: str, link: str, summary: str, content: str = "", guid: str = "") -> str:
    encoded = f"<content:encoded><![CDATA[{content}]]></content:encoded>" if content else ""
    guid_tag = f'<guid isPermaLink="false">{guid}</guid>' if guid else ""
    return f"""<item><title>{title}</title><link>{link}</link>{guid_tag}
<pubDate>Mon, 19 Aug 2024 10:00:00 +0300</pubDate><dc:creator>Ivan Shevchenko</dc:creator>
<description><![CDATA[{summary}]]></description>{encoded}</item>"""


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("2024-08-19", "2024-08-19"),
        ("20240819", "2024-08-19"),
        ("2024-08-19T10:00:00", "2024-08-19T10:00:00"),
        ("2024-08-19T10:00:00Z", "2024-08-19T10:00:00"),
        ("2024-08-19T13:00:00+03:00", "2024-08-19T10:00:00"),
        ("2024-08-19T10:00:00.123456", "2024-08-19T10:00:00"),
        ("2024-08-19 10:00", "2024-08-19T10:00:00"),
        ("Mon, 19 Aug 2024 10:00:00 +0300", "2024-08-19T07:00:00"),
        ("Mon, 19 Aug 2024 10:00:00 GMT", "2024-08-19T10:00:00"),
        (1724061600, "2024-08-19T10:00:00"),
        (1724061600.5, "2024-08-19T10:00:00"),
        ("1724061600", "2024-08-19T10:00:00"),
    ],
)
def test_parse_date_normalises(value: str | int | float | None, expected: str | None) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    "value", ["yesterday", "2024-13-01", "1989-12-31", "2101-01-01", "19.08.2024", 10**15, True]
)
def test_parse_date_rejects(value: str | int) -> None:
    with pytest.raises(ValueError, match=r"^invalid date '.*'$"):
        parse_date(value)


# ---------------------------------------------------------------- fetcher


def test_fetch_returns_body_headers_and_final_url(server: LocalServer, fetcher: Fetcher) -> None:
    server.set("/page", "привіт", "text/plain; charset=utf-8", {"ETag": '"v1"'})
    server.redirect("/old", "/page")
    got = fetcher.fetch(server.url("/old"))
    assert got is not None
    assert got.url == server.url("/old") and got.final_url == server.url("/page")
    assert got.status == 200 and got.body.decode("utf-8") == "привіт"
    assert got.media_type == "text/plain" and got.charset == "utf-8"
    assert got.etag == '"v1"' and got.last_modified is None
    assert server.requests[-1][1]["user-agent"].startswith("sectorbot/")


def test_conditional_get_returns_none_on_304(server: LocalServer, fetcher: Fetcher) -> None:
    stamp = "Mon, 19 Aug 2024 10:00:00 GMT"
    server.set("/etag", "x", headers={"ETag": '"abc"'})
    server.set("/lm", "x", headers={"Last-Modified": stamp})
    assert fetcher.fetch(server.url("/etag"), etag='"abc"') is None
    assert fetcher.fetch(server.url("/etag"), etag='"old"') is not None
    assert fetcher.fetch(server.url("/lm"), last_modified=stamp) is None
    first = fetcher.fetch(server.url("/lm"))
    assert first is not None and first.last_modified == stamp


def test_fetch_http_error_is_one_line(server: LocalServer, fetcher: Fetcher) -> None:
    url = server.url("/missing")
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    assert str(caught.value) == f"{url}: HTTP 404 Not Found"


def test_fetch_times_out(server: LocalServer) -> None:
    url = server.set("/slow", "late", delay=3.0)
    with Fetcher(timeout=0.3) as quick, pytest.raises(FetchError) as caught:
        quick.fetch(url)
    assert str(caught.value) == f"{url}: timed out after 0.3 s"


def test_fetch_unreachable(fetcher: Fetcher) -> None:
    url = f"http://127.0.0.1:{closed_port()}/feed"
    with pytest.raises(FetchError, match=r"^http://127\.0\.0\.1:\d+/feed: cannot connect"):
        fetcher.fetch(url)


@pytest.mark.parametrize("content_length", [True, False])
def test_fetch_stops_at_size_cap(server: LocalServer, content_length: bool) -> None:
    path = f"/big-{content_length}"
    url = server.set(path, b"x" * 300_000, "text/plain", content_length=content_length)
    with Fetcher(max_bytes=100_000) as small, pytest.raises(FetchError) as caught:
        small.fetch(url)
    assert str(caught.value) == f"{url}: response is over the 100.0 kB limit"


def test_fetch_refuses_other_schemes_and_redirect_loops(
    server: LocalServer, fetcher: Fetcher
) -> None:
    with pytest.raises(FetchError, match="unsupported URL scheme 'ftp'"):
        fetcher.fetch("ftp://example.org/file.txt")
    with pytest.raises(FetchError, match="unsupported URL scheme 'file'"):
        fetcher.fetch("file:///etc/passwd")
    server.redirect("/loop", "/loop")
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetcher.fetch(server.url("/loop"))


# ---------------------------------------------------------------- targets


def test_iter_targets_expands_folders_sorted_without_hidden(tmp_path: Path) -> None:
    for name in ["b.md", "a.txt", "sub/c.html", "sub/deeper/d.pdf", ".hidden.md"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    for name in [".git/config", "__pycache__/m.pyc", "sub/.cache/e.md"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = [Path(p).relative_to(tmp_path).as_posix() for p in iter_targets(str(tmp_path))]
    assert found == ["a.txt", "b.md", "sub/c.html", "sub/deeper/d.pdf"]
    assert list(iter_targets("https://example.org/a")) == ["https://example.org/a"]
    assert list(iter_targets(str(tmp_path / "b.md"))) == [str(tmp_path / "b.md")]


# ---------------------------------------------------------------- markdown and text


def test_markdown_front_matter(tmp_path: Path, fetcher: Fetcher) -> None:
    path = write(
        tmp_path / "report.md",
        "---\n"
        'id: "isw-2024-08-19"\n'
        "title: 'ISW: Pokrovsk direction'\n"
        "source: ISW\n"
        "url: https://www.understandingwar.org/report\n"
        "date: 2024-08-19\n"
        "lang: en\n"
        "author: Analysts\n"
        "tags: pokrovsk, donetsk\n"
        "---\n"
        "# Key takeaways\n\n"
        "Russian forces advanced southeast of Pokrovsk.\n"
        "They attacked near Novohrodivka.\n\n\n\n"
        "## Assessment\n\n"
        "Ukrainian forces are holding.\n",
    )
    [doc] = run(path, fetcher)
    assert doc.title == "ISW: Pokrovsk direction"
    assert doc.ext_id == "isw-2024-08-19" and doc.source == "ISW" and doc.author == "Analysts"
    assert doc.url == "https://www.understandingwar.org/report"
    assert doc.published == "2024-08-19" and doc.lang == "en"
    assert doc.origin_kind == "markdown" and doc.origin_ref == str(path)
    assert doc.meta == {"tags": "pokrovsk, donetsk"}
    assert doc.text == (
        "Key takeaways\n\n"
        "Russian forces advanced southeast of Pokrovsk.\nThey attacked near Novohrodivka.\n\n"
        "Assessment\n\nUkrainian forces are holding."
    )


def test_title_falls_back_to_heading_then_stem(tmp_path: Path, fetcher: Fetcher) -> None:
    heading = write(tmp_path / "a.markdown", "Intro line.\n\n# Покровськ: ситуація\n\nТекст.\n")
    plain = write(tmp_path / "notes-2024.txt", "Just a note about Myrnohrad.\r\n")
    [doc_a] = run(heading, fetcher)
    [doc_b] = run(plain, fetcher)
    assert doc_a.title == "Покровськ: ситуація" and doc_a.origin_kind == "markdown"
    assert doc_b.title == "notes-2024" and doc_b.origin_kind == "text"
    assert doc_b.text == "Just a note about Myrnohrad." and doc_b.published is None


def test_ukrainian_cp1251_and_russian_utf8(tmp_path: Path, fetcher: Fetcher) -> None:
    uk = tmp_path / "uk.txt"
    uk.write_bytes("Евакуація з Покровська триває.\n".encode("cp1251"))
    ru = write(tmp_path / "ru.md", "---\nlang: ru\n---\nЭвакуация из Покровска продолжается.\n")
    [doc_uk] = run(uk, fetcher)
    [doc_ru] = run(ru, fetcher)
    assert doc_uk.text == "Евакуація з Покровська триває."
    assert doc_ru.text == "Эвакуация из Покровска продолжается." and doc_ru.lang == "ru"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("---\ntitle: x\n\nbody without a closing line\n", "broken front matter: no closing"),
        ("---\ntitle: x\n- a list item\n---\nbody\n", "line 3 is not 'key: value'"),
        ("---\ndate: last week\n---\nbody\n", "invalid date 'last week'"),
        ("---\ndate: 1912-04-15\n---\nbody\n", "invalid date '1912-04-15'"),
        ("---\ntitle: only front matter\n---\n\n", "no text after the front matter"),
    ],
)
def test_markdown_bad_front_matter(
    tmp_path: Path, fetcher: Fetcher, content: str, reason: str
) -> None:
    assert reason in only_error(run(write(tmp_path / "bad.md", content), fetcher))


# ---------------------------------------------------------------- HTML


def test_html_file_with_metadata(tmp_path: Path, fetcher: Fetcher) -> None:
    path = write(tmp_path / "page.html", article_html(EN_PARAGRAPHS))
    [doc] = run(path, fetcher)
    assert doc.title == "Pokrovsk update" and doc.author == "Olena Petrenko"
    assert doc.source == "Example News" and doc.published == "2024-08-19"
    assert doc.url == "https://example.org/news/pokrovsk-update" and doc.lang == "en"
    assert doc.origin_kind == "html" and doc.origin_ref == str(path)
    paragraphs = doc.text.split("\n\n")
    assert EN_PARAGRAPHS[0] in paragraphs and EN_PARAGRAPHS[2] in paragraphs
    assert "Home" not in doc.text and "Copyright" not in doc.text


def test_html_url_in_ukrainian(server: LocalServer, fetcher: Fetcher) -> None:
    page = article_html(UK_PARAGRAPHS, title="Ситуація на Покровському напрямку", lang="uk-UA")
    page = page.replace(
        '<link rel="canonical" href="https://example.org/news/pokrovsk-update">', ""
    )
    url = server.set("/uk/article", page.encode("utf-8"), "text/html; charset=utf-8")
    [doc] = run(url, fetcher)
    assert doc.origin_kind == "url" and doc.origin_ref == url and doc.url == url
    assert doc.title == "Ситуація на Покровському напрямку" and doc.lang == "uk"
    assert UK_PARAGRAPHS[1] in doc.text.split("\n\n")


def test_html_without_article(tmp_path: Path, fetcher: Fetcher) -> None:
    path = write(tmp_path / "empty.htm", "<html><body></body>")
    assert only_error(run(path, fetcher)) == "no article text found"


def test_html_to_text_keeps_paragraphs_and_drops_tags() -> None:
    fragment = (
        "<p>First &amp; <b>bold</b>\nline.</p><script>var x = 1;</script>"
        "<ul><li>one</li><li>two<br>three</li></ul>"
    )
    assert html_to_text(fragment) == "First & bold line.\n\none\n\ntwo\nthree"


# ---------------------------------------------------------------- PDF


def test_pdf_with_metadata_and_hyphenation(tmp_path: Path, fetcher: Fetcher) -> None:
    data = make_pdf(
        PDF_LINES, Title="Weekly report", Author="OSINT team", CreationDate="D:20240819100000Z"
    )
    path = write(tmp_path / "report.pdf", data)
    [doc] = run(path, fetcher)
    assert doc.title == "Weekly report" and doc.author == "OSINT team"
    assert doc.published == "2024-08-19T10:00:00" and doc.origin_kind == "pdf"
    assert "weekly briefing of the regional administration" in doc.text
    assert "continue the evacuation from the city." in doc.text
    assert "the Russian-Ukrainian front line" in doc.text


def test_pdf_sniffed_from_url_and_misnamed_file(
    tmp_path: Path, server: LocalServer, fetcher: Fetcher
) -> None:
    data = make_pdf(PDF_LINES)
    url = server.set("/download", data, "application/octet-stream") + "?id=7"
    [from_url] = run(url, fetcher)
    assert from_url.origin_kind == "pdf" and from_url.url == url and from_url.title == "download"
    [from_file] = run(write(tmp_path / "report.txt", data), fetcher)
    assert from_file.origin_kind == "pdf" and "evacuation" in from_file.text


def test_pdf_broken_or_without_text(tmp_path: Path, fetcher: Fetcher) -> None:
    corrupt = write(tmp_path / "corrupt.pdf", b"%PDF-1.4\n" + b"\x13garbage\x00" * 50)
    scanned = write(tmp_path / "scan.pdf", make_pdf([], Title="Scan"))
    assert only_error(run(corrupt, fetcher)).startswith("broken PDF: ")
    assert only_error(run(scanned, fetcher)) == "PDF has no extractable text"


# ---------------------------------------------------------------- feeds

LONG_CONTENT = " ".join(f"<p>{p}</p>" for p in EN_PARAGRAPHS)


def test_rss_file_with_full_text_fetch_and_fallback(tmp_path: Path, server: LocalServer) -> None:
    article = server.set("/articles/1", article_html(EN_PARAGRAPHS))
    gone = server.url("/articles/gone")
    items = (
        rss_item("Full entry", "https://frontline.example/a", "Teaser", LONG_CONTENT, "guid-a")
        + rss_item("Teaser only", article, "<p>Russian forces <b>advance</b>.</p>", guid="guid-b")
        + rss_item("Dead link", gone, "<p>Evacuation &amp; shelling.</p>")
    )
    path = write(tmp_path / "feed.rss", rss(items))
    # The linked pages are on 127.0.0.1, which links from feeds reach only when allowed.
    with Fetcher(timeout=2.0, allow_private=True) as fetcher:
        full, fetched, fallback = run(path, fetcher)
    assert full.title == "Full entry" and full.ext_id == scoped_id("feed", str(path), "guid-a")
    assert full.source == "Front Line Daily" and full.origin_kind == "feed"
    assert full.origin_ref == str(path) and full.url == "https://frontline.example/a"
    assert full.author == "Ivan Shevchenko" and full.published == "2024-08-19T07:00:00"
    assert full.lang == "en" and EN_PARAGRAPHS[1] in full.text and "full_text" not in full.meta
    assert server.hits("/articles/1") == 1
    assert EN_PARAGRAPHS[2] in fetched.text and fetched.meta["full_text"] == "fetched from link"
    assert fetched.url == article and local_id(fetched.ext_id or "") == "guid-b"
    assert fallback.text == "Evacuation & shelling."
    assert fallback.meta["full_text"] == f"summary only: {gone}: HTTP 404 Not Found"


def test_atom_feed_by_url(server: LocalServer, fetcher: Fetcher) -> None:
    atom = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="uk">
<title>Покровськ онлайн</title><id>urn:feed</id><updated>2024-08-20T00:00:00Z</updated>
<entry><title>Евакуація триває</title><id>urn:entry:1</id>
<link rel="alternate" href="https://news.example/1"/>
<updated>2024-08-20T08:30:00+03:00</updated><author><name>Марія</name></author>
<content type="html">{"".join(f"&lt;p&gt;{p}&lt;/p&gt;" for p in UK_PARAGRAPHS * 2)}</content>
</entry></feed>"""
    url = server.set("/atom", atom, "text/html; charset=utf-8")  # mislabelled on purpose
    [doc] = run(url, fetcher)
    assert doc.origin_kind == "feed" and doc.origin_ref == url and doc.source == "Покровськ онлайн"
    assert doc.title == "Евакуація триває" and doc.ext_id == scoped_id("feed", url, "urn:entry:1")
    assert doc.url == "https://news.example/1" and doc.author == "Марія"
    assert doc.published == "2024-08-20T05:30:00"
    assert doc.text.split("\n\n")[:3] == UK_PARAGRAPHS


def test_parse_feed_without_fetcher_keeps_summary() -> None:
    data = rss(rss_item("Short", "https://frontline.example/s", "<p>Just a teaser.</p>"))
    [doc] = parse_feed(data.encode("utf-8"), "https://frontline.example/feed", None)
    assert doc.text == "Just a teaser." and doc.meta["full_text"] == "summary only: not fetched"


def test_feed_broken_tolerated_and_not_a_feed(tmp_path: Path, fetcher: Fetcher) -> None:
    broken = write(tmp_path / "broken.xml", '<?xml version="1.0"?><rss><channel><<<>></rss>')
    reason = only_error(run(broken, fetcher))
    assert reason.startswith("broken feed XML: line 1, column")
    # An unescaped "&" makes the feed not well-formed, but its entry is still readable.
    sloppy = rss(rss_item("A & B", "https://frontline.example/x", LONG_CONTENT)).replace(
        "Front Line Daily", "Front & Line"
    )
    [doc] = run(write(tmp_path / "sloppy.atom", sloppy), fetcher)
    assert doc.title == "A & B" and EN_PARAGRAPHS[0] in doc.text
    # feedparser itself raises on some mangled XML declarations.
    mangled = write(tmp_path / "mangled.rss", b'<?xml version="1.0" encoding="ut\xd8-8"?><rss/>')
    assert only_error(run(mangled, fetcher)).startswith("broken feed XML: ")
    other_xml = write(tmp_path / "data.xml", '<?xml version="1.0"?><root><a>1</a></root>')
    assert only_error(run(other_xml, fetcher)) == "not an RSS or Atom feed"


# ---------------------------------------------------------------- Telegram export


def telegram_export(**extra: object) -> dict:
    return {
        "name": "Покровськ Новини",
        "type": "public_channel",
        "id": 1234567890,
        **extra,
        "messages": [
            {"id": 1, "type": "service", "date": "2024-08-18T09:00:00", "action": "create_channel"},
            {
                "id": 2,
                "type": "message",
                "date": "2024-08-19T13:00:00",
                "date_unixtime": "1724061600",
                "text": [
                    "Евакуація з ",
                    {"type": "bold", "text": "Покровська"},
                    " триває.\nДругий рядок.",
                ],
            },
            {
                "id": 3,
                "type": "message",
                "date": "2024-08-19T14:00:00",
                "photo": "p.jpg",
                "text": "",
            },
            {
                "id": 4,
                "type": "message",
                "date": "2024-08-19T15:00:00",
                "text": "Довгий заголовок " * 10,
                "author": "Адмін",
            },
        ],
    }


def test_telegram_export_posts_and_urls(tmp_path: Path, fetcher: Fetcher) -> None:
    public = write(tmp_path / "a.json", json.dumps(telegram_export(username="pokrovsk_news")))
    first, second = run(public, fetcher)
    assert first.text == "Евакуація з Покровська триває.\nДругий рядок."
    assert first.title == "Евакуація з Покровська триває."
    assert first.url == "https://t.me/pokrovsk_news/2" and first.ext_id == "tg:1234567890:2"
    assert first.source == "Покровськ Новини" and first.origin_kind == "telegram"
    assert first.published == "2024-08-19T10:00:00"  # from date_unixtime, the true instant
    assert second.published == "2024-08-19T15:00:00" and second.author == "Адмін"
    assert len(second.title) <= 101 and second.title.endswith("…")

    private = write(tmp_path / "b.json", json.dumps(telegram_export(id=-1001234567890)))
    [doc, _] = run(private, fetcher)
    assert doc.url == "https://t.me/c/1234567890/2" and doc.ext_id == "tg:1234567890:2"
    [doc, _] = run(private, fetcher, channel="@pokrovsk_city")
    assert doc.url == "https://t.me/pokrovsk_city/2"


def test_telegram_bad_json(tmp_path: Path, fetcher: Fetcher) -> None:
    broken = write(tmp_path / "result.json", '{"name": "x", "messages": [')
    other = write(tmp_path / "other.json", '{"name": "x", "items": []}')
    assert only_error(run(broken, fetcher)).startswith("broken JSON: ")
    assert "not a Telegram export" in only_error(run(other, fetcher))


# ---------------------------------------------------------------- JSONL


def test_jsonl_good_and_bad_lines(tmp_path: Path, fetcher: Fetcher) -> None:
    good = {
        "id": "rss:6faf48fc9317",
        "title": "Holding the Line in Pokrovsk",
        "source": "The Dispatch",
        "url": "https://thedispatch.com/article/ukraine-pokrovsk",
        "published": "2025-11-26",
        "lang": "en",
        "text": "NEAR POKROVSK, Ukraine—The soldiers wait for nightfall.\n\nSecond paragraph.",
    }
    undated = {**good, "id": "cnn:46e11815a8b9", "url": None, "published": None}
    timed = {**good, "id": "web:1", "published": "2024-07-30T23:36:41", "text": "Покровськ."}
    lines = [
        json.dumps(good, ensure_ascii=False),
        "",
        '{"id": "broken", "text": ',
        json.dumps(undated),
        json.dumps({**good, "id": "no-text", "text": "  "}),
        json.dumps({**good, "id": "bad-date", "published": "31/12/2024"}),
        json.dumps({**good, "title": "Copy"}),
        json.dumps(timed, ensure_ascii=False),
    ]
    path = write(tmp_path / "bulk.jsonl", "\n".join(lines) + "\n")
    results = run(path, fetcher)
    ids = [local_id(d.ext_id or "") for d in docs_of(results)]
    assert ids == ["rss:6faf48fc9317", "cnn:46e11815a8b9", "web:1"]
    first, undated_doc, timed_doc = docs_of(results)
    assert first.ext_id == scoped_id("jsonl", "The Dispatch", "rss:6faf48fc9317")
    assert first.origin_kind == "jsonl" and first.origin_ref == f"{path}#L1"
    assert first.title == good["title"] and first.source == "The Dispatch"
    assert first.published == "2025-11-26" and first.lang == "en" and first.text == good["text"]
    assert undated_doc.url is None and undated_doc.published is None
    assert timed_doc.published == "2024-07-30T23:36:41" and timed_doc.origin_ref.endswith("#L8")
    errors = {e.ref.rsplit("#", 1)[1]: e.reason for e in errors_of(results)}
    assert errors["L3"].startswith("invalid JSON: ")
    assert errors["L5"] == "missing or empty 'text'"
    assert errors["L6"] == "invalid date '31/12/2024'"
    assert errors["L7"] == "duplicate id 'rss:6faf48fc9317' (first on line 1)"
    assert len(errors) == 4


# ---------------------------------------------------------------- bad input in general


def test_empty_binary_and_unknown_files(tmp_path: Path, fetcher: Fetcher) -> None:
    assert only_error(run(write(tmp_path / "empty.md", b""), fetcher)) == "empty file"
    assert only_error(run(write(tmp_path / "blank.txt", "\n  \n"), fetcher)) == "empty file"
    junk = bytes(range(256)) * 8
    binary = "not a text file (binary data)"
    assert only_error(run(write(tmp_path / "junk.txt", junk), fetcher)) == binary
    no_nul = bytes(b for b in range(1, 32) if b not in (9, 10, 13)) * 10
    assert only_error(run(write(tmp_path / "junk.html", no_nul), fetcher)) == binary
    assert only_error(run(write(tmp_path / "data.xyz", "hello"), fetcher)) == (
        "unsupported file type '.xyz'"
    )
    assert only_error(run(write(tmp_path / "README", "hello"), fetcher)) == (
        "unsupported file type (no extension)"
    )
    assert only_error(run(tmp_path / "nowhere.md", fetcher)) == "no such file"


def test_file_over_the_limit_is_not_read(tmp_path: Path, fetcher: Fetcher) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.truncate(25_300_000)  # sparse: no need to write 25 MB
    results = run(path, fetcher, max_bytes=20_000_000)
    assert results == [ItemFailure(str(path), "file is 25.3 MB, over the 20.0 MB limit")]


def test_url_failures_become_item_errors(server: LocalServer) -> None:
    slow = server.set("/slow-page", article_html(EN_PARAGRAPHS), delay=3.0)
    image = server.set("/photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")
    unreachable = f"http://127.0.0.1:{closed_port()}/x"
    missing = server.url("/no/such/page")
    with Fetcher(timeout=0.3) as quick:
        assert only_error(run(slow, quick)) == f"{slow}: timed out after 0.3 s"
        assert only_error(run(missing, quick)) == f"{missing}: HTTP 404 Not Found"
        assert only_error(run(unreachable, quick)).startswith(f"{unreachable}: cannot connect")
        assert only_error(run(image, quick)) == "unsupported content type 'image/png'"
        results = run(unreachable, quick)
    assert results[0].ref == unreachable


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(min_size=1, max_size=300)
    | st.text(min_size=1, max_size=300).map(lambda t: t.encode("utf-8")),
    ext=st.sampled_from([".md", ".txt", ".html", ".pdf", ".xml", ".json", ".jsonl", ".bin"]),
)
def test_load_never_raises(tmp_path: Path, fetcher: Fetcher, data: bytes, ext: str) -> None:
    path = write(tmp_path / f"input{ext}", data)
    for result in run(path, fetcher):
        assert isinstance(result, Document | ItemFailure)
        if isinstance(result, ItemFailure):
            assert result.reason and "\n" not in result.reason
