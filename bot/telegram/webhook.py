"""The webhook server: Telegram posts each update here, and nothing else gets in cheaply.

A request is judged before its body is read: a wrong or missing secret header gets 403, a
declared length over `SECTORBOT_WEBHOOK_MAX_BODY` 413, and past `MAX_REQUESTS` at once 503;
a body that grows past the cap while it arrives gets 413. A body that is read is one update:
not JSON, or an update id Telegram could not send, gets 400; an update the library cannot
parse gets 200 (Telegram would only post it again) and one log line.

An update is acknowledged (200) only once it is stored with its JSON in the claim table
(`Service.accept_update`): the first worker to store it answers it, the others drop it. Once
handled it is marked done (`finish`); `take_over` answers what a dead worker acknowledged and
never handled (see `bot.telegram.workers`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import tornado.web
from tornado.httpserver import HTTPServer

from sectorbot.bot.settings import Settings
from sectorbot.bot.telegram.state import App
from sectorbot.bot.telegram.updates import read_update, valid_update_id
from sectorbot.bot.workers.offload import off_loop

log = logging.getLogger(__name__)

# Telegram opens at most `max_connections` (40 unless set otherwise) to a webhook at once.
MAX_REQUESTS = 40
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass
class Hook:
    """What every request to the webhook shares."""

    app: App
    secret: bytes
    max_body: int
    in_flight: int = 0


@tornado.web.stream_request_body
class UpdateHandler(tornado.web.RequestHandler):
    """One POST of one update; the body is streamed so that it can be refused unread."""

    SUPPORTED_METHODS = ("POST",)

    def initialize(self, hook: Hook) -> None:
        self.hook = hook
        self.body = bytearray()
        self.counted = False
        self.refused = False

    def prepare(self) -> None:
        """Refuse before reading a byte of the body: no secret, too large, too many."""
        given = self.request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.hook.secret):
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN)
        length = self.request.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > self.hook.max_body:
            raise tornado.web.HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        if self.hook.in_flight >= MAX_REQUESTS:
            raise tornado.web.HTTPError(HTTPStatus.SERVICE_UNAVAILABLE)
        self.hook.in_flight += 1
        self.counted = True

    def data_received(self, chunk: bytes) -> None:
        if self.refused:
            return
        if len(self.body) + len(chunk) > self.hook.max_body:  # a chunked body has no length
            self.refused = True
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)  # and the connection closes
            return
        self.body += chunk

    async def post(self) -> None:
        if self.refused:
            return
        self.set_status(await receive(self.hook.app, bytes(self.body)))
        self.finish()

    def on_finish(self) -> None:
        self._release()

    def on_connection_close(self) -> None:
        self._release()

    def _release(self) -> None:
        if self.counted:
            self.counted = False
            self.hook.in_flight -= 1

    def log_exception(self, *args: Any) -> None:
        """A refused request is not an error of ours: HTTPError needs no traceback."""
        if not isinstance(args[1], tornado.web.HTTPError):
            super().log_exception(*args)


class WebhookApplication(tornado.web.Application):
    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """Quiet: a line per update would only repeat the handlers' own."""


async def receive(app: App, body: bytes) -> int:
    """Store and queue one posted update; the status code to answer with."""
    try:
        data = json.loads(body)
    except ValueError:
        log.warning("webhook: a body that is not JSON was refused")
        return HTTPStatus.BAD_REQUEST
    update_id = data.get("update_id") if isinstance(data, dict) else None
    if not valid_update_id(update_id):
        log.warning("webhook: an update with an invalid id was refused: %.40r", update_id)
        return HTTPStatus.BAD_REQUEST
    update = read_update(data, app.bot)
    if update is None:
        return HTTPStatus.OK  # Telegram would post it again and again: skip it for good
    process = app.bot_data.process
    text = body.decode()
    if not await off_loop(app.bot_data.service.accept_update, update_id, process.holder, text):
        log.info("update %s was taken on already: dropped", update_id)
        return HTTPStatus.OK
    process.accepted.add(update.update_id)
    await app.update_queue.put(update)
    return HTTPStatus.OK


def _server(app: App, settings: Settings) -> HTTPServer:
    assert settings.webhook_url and settings.webhook_secret  # webhook_problem checked both
    path = urlsplit(settings.webhook_url).path.rstrip("/") or ""
    hook = Hook(app, settings.webhook_secret.encode(), settings.webhook_max_body)
    routes = [(rf"{re.escape(path)}/?", UpdateHandler, {"hook": hook})]
    # tornado's own cap (a 400) stays above ours by what it may gather before it hands the
    # body over (64 KiB pieces): a chunked body over our cap gets our 413 first.
    slack = 4 * 65536
    return HTTPServer(WebhookApplication(routes), max_body_size=settings.webhook_max_body + slack)


@asynccontextmanager
async def serving(app: App, settings: Settings, allowed: list[str]) -> AsyncIterator[None]:
    """The bot and its webhook, running until the block ends: Telegram told where to post."""
    async with app:
        if app.post_init is not None:
            await app.post_init(app)
        await app.bot.set_webhook(
            url=settings.webhook_url or "",
            allowed_updates=allowed,
            max_connections=MAX_REQUESTS,
            secret_token=settings.webhook_secret,
        )
        server = _server(app, settings)
        server.listen(settings.webhook_port, address=settings.webhook_listen)
        await app.start()
        try:
            yield
        finally:
            server.stop()
            await server.close_all_connections()
            await app.stop()
            if app.post_stop is not None:
                await app.post_stop(app)


async def serve(app: App, settings: Settings, allowed: list[str]) -> None:
    """Serve the webhook until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with serving(app, settings, allowed):
        await stop.wait()
