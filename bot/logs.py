"""Logging set-up: plain lines for people, JSON lines for log collectors; never the token."""

from __future__ import annotations

import json
import logging
import sys
import threading
import traceback
from types import TracebackType

from sectorbot.bot.settings import TOKEN_RE
from sectorbot.corpus.redact import redact_secrets


def redact(text: str) -> str:
    """`text` with anything shaped like a bot token, a URL's password or a `password=`
    value masked."""
    return redact_secrets(TOKEN_RE.sub("<token>", text))


class RedactToken(logging.Filter):
    """Mask anything shaped like a bot token, wherever a library put it in a message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


class PlainFormatter(logging.Formatter):
    """Plain lines; a traceback is redacted too (the filter above only sees the message)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


def _print_redacted(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))


def _print_thread_redacted(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        _print_redacted(args.exc_type, args.exc_value, args.exc_traceback)


def redact_uncaught() -> None:
    """Print uncaught exceptions, in any thread, without a token in them."""
    # A library may put the token into an exception's message (python-telegram-bot's
    # InvalidToken does); an uncaught one is printed by these hooks, not by a handler.
    sys.excepthook = _print_redacted
    threading.excepthook = _print_thread_redacted


def configure(level: str = "INFO", fmt: str = "plain") -> None:
    """Log lines for the process, plain or JSON, with tokens masked."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactToken())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(PlainFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL, and a Bot API URL contains the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    # The job queue's scheduler says INFO for every round of every job: several lines a tick.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("pymorphy3").setLevel(logging.WARNING)  # "loading dictionaries" twice
