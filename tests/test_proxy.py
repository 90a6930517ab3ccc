"""Fetches through an HTTP proxy named by the environment (HTTP_PROXY, NO_PROXY), with the
address check still made on the target as this machine resolves it."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from sectorbot.corpus.errors import FetchError
from sectorbot.corpus.fetch import Fetcher
from tests.httpserver import LocalServer

FEED_HOST = "feeds.sector.test"  # resolves nowhere: only the proxy knows where it is


class ForwardProxy:
    """A plain forward proxy on 127.0.0.1 that sends every request to one local server,
    whatever host it names, and remembers the absolute URLs it was asked for."""

    def __init__(self, upstream: LocalServer) -> None:
        self.asked: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.asked.append(self.path)
                target = urlsplit(self.path)
                conn = http.client.HTTPConnection(upstream.host, upstream.port, timeout=10)
                try:
                    conn.request("GET", target.path or "/")
                    answer = conn.getresponse()
                    body = answer.read()
                finally:
                    conn.close()
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.getheader("Content-Type") or "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def proxied(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LocalServer, ForwardProxy]]:
    with LocalServer() as server:
        server.set("/feed.xml", b"<rss><channel><title>t</title></channel></rss>", "text/xml")
        proxy = ForwardProxy(server)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        try:
            yield server, proxy
        finally:
            proxy.close()


def test_operator_fetches_go_through_the_proxy(proxied: tuple[LocalServer, ForwardProxy]) -> None:
    server, proxy = proxied
    url = f"http://{FEED_HOST}:{server.port}/feed.xml"
    with Fetcher(trusted=True) as fetcher:
        fetched = fetcher.fetch(url)
    assert fetched is not None and b"<rss>" in fetched.body
    assert proxy.asked == [url]


def test_a_strangers_private_target_stays_refused_through_the_proxy(
    proxied: tuple[LocalServer, ForwardProxy],
) -> None:
    server, proxy = proxied
    with Fetcher(trusted=True) as fetcher, pytest.raises(FetchError, match="loopback"):
        fetcher.fetch(server.url("/feed.xml"), untrusted=True)
    assert proxy.asked == []  # refused before anything reached the proxy
    with Fetcher(trusted=False, allow_private=True) as fetcher:
        assert fetcher.fetch(server.url("/feed.xml")) is not None
    assert proxy.asked == [server.url("/feed.xml")]


def test_no_proxy_hosts_go_direct(
    proxied: tuple[LocalServer, ForwardProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, proxy = proxied
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with Fetcher(trusted=True) as fetcher:
        assert fetcher.fetch(server.url("/feed.xml")) is not None
    assert proxy.asked == [] and server.hits("/feed.xml") == 1
