"""A small HTTP server on 127.0.0.1 for tests: routes are set by the test, requests counted.

    with LocalServer() as server:
        server.set("/feed.xml", rss_bytes, "application/rss+xml")
        fetcher.fetch(server.url("/feed.xml"))
        assert server.hits("/feed.xml") == 1

Unknown paths answer 404. A route can be slow (`delay`), drip its body a byte at a time
(`drip`), redirect, stream without a Content-Length, and answers 304 to a matching
If-None-Match / If-Modified-Since when it was set with an ETag / Last-Modified header.
The server listens on 127.0.0.1 unless given another loopback address (127.0.0.2).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit


@dataclass
class Route:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    content_length: bool = True  # False: no Content-Length, the body ends when the socket does
    drip: float = 0.0  # seconds between the body's bytes, sent one at a time


class LocalServer:
    """An HTTP server in a background thread; use as a context manager or call close()."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        if not host.startswith("127."):
            raise ValueError("tests serve on loopback addresses only")
        self.host = host
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server((host, 0), _Handler)
        self._httpd.app = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def set(
        self,
        path: str,
        body: bytes | str,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        *,
        status: int = 200,
        delay: float = 0.0,
        content_length: bool = True,
        drip: float = 0.0,
    ) -> str:
        """Serve `body` at `path`; returns the route's full URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        headers = dict(headers or {})
        route = Route(data, content_type, status, headers, delay, content_length, drip)
        self.routes[path] = route
        return self.url(path)

    def redirect(self, path: str, to: str, status: int = 302) -> str:
        """Redirect `path` to `to` (a path on this server or a full URL)."""
        return self.set(path, b"", "text/plain", {"Location": to}, status=status)

    def hits(self, path: str) -> int:
        with self._lock:
            return self._hits[path]

    def close(self) -> None:
        self._stopping.set()  # wakes up slow routes still waiting
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _record(self, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self._hits[path] += 1
            self.requests.append((path, headers))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a test must never wait for a slow route to finish
    app: LocalServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean

    def _answer(self, *, with_body: bool) -> None:
        app = self.server.app
        path = urlsplit(self.path).path
        app._record(path, {k.lower(): v for k, v in self.headers.items()})
        route = app.routes.get(path) or Route(b"not found", "text/plain", 404)
        if route.delay and app._stopping.wait(route.delay):
            return
        try:
            if _not_modified(route, self.headers):
                self._send_head(304, route, None)
            else:
                self._send_head(route.status, route, len(route.body))
                if with_body:
                    self._send_body(route)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to do

    def _send_body(self, route: Route) -> None:
        if not route.drip:
            self.wfile.write(route.body)
            return
        for i in range(len(route.body)):
            self.wfile.write(route.body[i : i + 1])
            self.wfile.flush()
            if self.server.app._stopping.wait(route.drip):
                return

    def _send_head(self, status: int, route: Route, length: int | None) -> None:
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Type", route.content_type)
        for name, value in route.headers.items():
            self.send_header(name, value)
        if length is not None and route.content_length:
            self.send_header("Content-Length", str(length))
        self.end_headers()


def _not_modified(route: Route, request_headers: HTTPMessage) -> bool:
    headers = {k.lower(): v for k, v in route.headers.items()}
    asked = {k.lower(): v for k, v in request_headers.items()}
    if "etag" in headers and "if-none-match" in asked:
        return asked["if-none-match"] in (headers["etag"], "*")
    if "last-modified" in headers and "if-modified-since" in asked:
        try:
            since = parsedate_to_datetime(asked["if-modified-since"])
            return parsedate_to_datetime(headers["last-modified"]) <= since
        except (TypeError, ValueError):
            return False
    return False
