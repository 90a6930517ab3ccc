"""The HTTP side of the fake: a threaded server on 127.0.0.1 and its request handler.

Owns: accepting connections and reading request bodies (including chunked ones), telling the
request's answerer when the client has hung up, writing JSON answers, dropping open
connections on shutdown, and the PTB helpers for talking to the fake (:func:`loopback_request`,
:func:`polling`).  What a request means is decided elsewhere, by the answerer it is given.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
from collections.abc import AsyncIterator, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakebotapi.wire import HttpAnswer

# path, Content-Type, body, "has the client hung up?" -> the answer to send
Answerer = Callable[[str, str, bytes, Callable[[], bool]], HttpAnswer]


class LoopbackServer(ThreadingHTTPServer):
    """A threaded HTTP server on a free loopback port that hands every request to ``answer``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, answer: Answerer) -> None:
        self.answer = answer
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _RequestHandler)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def drop_connections(self) -> None:
        """Shut down every open connection, so no keep-alive client outlives the server."""
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx/1.18.0"
    sys_version = ""
    server: LoopbackServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY every answer would
        # wait for the peer's delayed ACK (~40 ms on Linux).
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _serve(self) -> None:
        body = self._read_body()
        answer = self.server.answer(
            self.path, self.headers.get("Content-Type", ""), body, self._client_gone
        )
        if answer is None:
            self.close_connection = True
            return
        status, payload = answer
        data = json.dumps(payload).encode("ascii")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True


def loopback_request(connection_pool_size: int = 8, **kwargs: Any) -> Any:
    """A PTB ``HTTPXRequest`` for talking to the fake: plain HTTP, so no TLS context is built.

    Purely a speed-up (PTB's default request loads the CA bundle, ~0.05-0.1 s per instance):
    ``ApplicationBuilder().request(loopback_request()).get_updates_request(loopback_request())``
    or ``Bot(..., request=loopback_request(), get_updates_request=loopback_request(1))``.
    """
    from telegram.request import HTTPXRequest  # local import: the server itself needs no PTB

    httpx_kwargs = {"verify": False, "trust_env": False, **kwargs.pop("httpx_kwargs", {})}
    return HTTPXRequest(
        connection_pool_size=connection_pool_size, httpx_kwargs=httpx_kwargs, **kwargs
    )


@contextlib.asynccontextmanager
async def polling(app: Any, allowed_updates: list[str] | None = None) -> AsyncIterator[Any]:
    """Run a built PTB ``Application`` against the fake until the block ends.

    The order ``run_polling`` uses (initialize, post_init, start polling, start; then stop
    polling, stop, post_stop), which ``run_polling`` itself cannot give here: it blocks and
    owns the event loop.
    """
    async with app:
        if app.post_init is not None:
            await app.post_init(app)
        await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=allowed_updates)
        await app.start()
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()
            if app.post_stop is not None:
                await app.post_stop(app)
