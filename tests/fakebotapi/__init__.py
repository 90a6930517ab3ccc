"""A fake Telegram Bot API server for sectorbot's tests.

The real python-telegram-bot ``Application`` talks plain HTTP to this server, so the whole bot
(handlers, job queue, error handling, request layer) runs exactly as in production, only the
network peer is fake.  Nothing here ever touches a non-loopback address.

Wire format, as used by python-telegram-bot 22.x:

* PTB builds the request URL as ``f"{base_url}{token}/{method}"`` when ``base_url`` contains no
  ``{token}`` placeholder, so pass ``FakeBotAPI.base_url`` (``http://127.0.0.1:PORT/bot``)
  unchanged to ``ApplicationBuilder().base_url(...)`` / ``Bot(base_url=...)``.
* Every call is an HTTP POST with an ``application/x-www-form-urlencoded`` body (or
  ``multipart/form-data`` when files are uploaded).  String parameters are sent as they are,
  all other values (ints, bools, lists, dicts such as ``reply_markup``) are JSON encoded.
  The server also accepts ``application/json`` bodies and query-string parameters, like the
  real Bot API does.
* Formatted text is parsed for ``parse_mode=HTML`` only; ``Markdown`` and ``MarkdownV2`` are
  refused with a 400 that says so, because sectorbot sends only HTML.

Typical use::

    with FakeBotAPI() as api:
        api.add_private_chat(42, "Alice", "alice")
        app = (
            ApplicationBuilder()
            .token(api.token)
            .base_url(api.base_url)
            .base_file_url(api.base_file_url)
            .build()
        )
        ...
        api.send_text(42, 42, "/start")
        call = await api.wait_for_async(lambda c: c.method == "sendMessage" and c.chat_id == 42)

In async tests always use the ``*_async`` waiting helpers: the blocking ones would stall the
event loop the bot runs on.

The modules, by what each owns:

* ``entities``: formatted text (HTML parsing, UTF-16 lengths, trimming, incoming entities).
* ``wire``: request bodies and parameters, reply-markup checks, error answers, call records.
* ``server``: the HTTP server and its handler threads; ``loopback_request`` and ``polling``.
* ``world``: the state (bot, users, chats, messages, updates) and helpers shared by the
  method families ``chats``, ``messages``, ``callbacks``, ``commands``, ``updates`` and
  ``records`` (what tests read back), which ``api`` combines into :class:`FakeBotAPI`.
"""

from tests.fakebotapi.api import FakeBotAPI
from tests.fakebotapi.entities import (
    EntityParseError,
    detect_incoming_entities,
    parse_formatted_text,
    utf16_len,
)
from tests.fakebotapi.messages import MAX_MESSAGE_LENGTH
from tests.fakebotapi.server import loopback_request, polling
from tests.fakebotapi.wire import MAX_CALLBACK_DATA_BYTES, ApiError, Call, Rejection, UploadedFile
from tests.fakebotapi.world import BOT_USERNAME, TOKEN

__all__ = [
    "BOT_USERNAME",
    "MAX_CALLBACK_DATA_BYTES",
    "MAX_MESSAGE_LENGTH",
    "TOKEN",
    "ApiError",
    "Call",
    "EntityParseError",
    "FakeBotAPI",
    "Rejection",
    "UploadedFile",
    "detect_incoming_entities",
    "loopback_request",
    "parse_formatted_text",
    "polling",
    "utf16_len",
]
