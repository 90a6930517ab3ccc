"""Logging set-up: plain lines for people, JSON lines for log collectors; never the token."""

from __future__ import annotations

import json
import logging

from sectorbot.bot.settings import TOKEN_RE


class RedactToken(logging.Filter):
    """Mask anything shaped like a bot token, wherever a library put it in a message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if TOKEN_RE.search(message):
            record.msg = TOKEN_RE.sub("<token>", message)
            record.args = None
        return True


class PlainFormatter(logging.Formatter):
    """Plain lines; a traceback is redacted too (the filter above only sees the message)."""

    def format(self, record: logging.LogRecord) -> str:
        return TOKEN_RE.sub("<token>", super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exc"] = TOKEN_RE.sub("<token>", self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


def configure(level: str = "INFO", fmt: str = "plain") -> None:
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
