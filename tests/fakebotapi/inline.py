"""Inline mode: a user typing ``@bot query`` (``send_inline_query``) and ``answerInlineQuery``.

Owns: whether the bot has inline mode (@BotFather's /setinline; without it Telegram sends no
inline queries), and the checks Telegram makes on an answer: one answer per query, at most 50
results, result ids of 1-64 bytes and unique, article results with a title and a message text
that parses and fits, ``cache_time`` and ``next_offset`` limits, the results button.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from tests.fakebotapi.entities import EntityParseError, parse_formatted_text, utf16_len
from tests.fakebotapi.messages import MAX_MESSAGE_LENGTH
from tests.fakebotapi.wire import MethodResult, Params, bad_request
from tests.fakebotapi.world import World

MAX_RESULTS = 50
MAX_RESULT_ID_BYTES = 64
MAX_OFFSET_BYTES = 64
MAX_QUERY_CHARS = 256
_START_PARAMETER = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BAD_QUERY = "query is too old and response timeout expired or query ID is invalid"


class InlineMethods(World):
    """Inline queries in, their answers out."""

    def set_inline_mode(self, on: bool) -> None:
        """@BotFather's /setinline: without it the bot gets no inline queries."""
        with self._cond:
            self.inline_mode = on

    def send_inline_query(self, user_id: int, query: str, chat_type: str = "sender") -> str:
        """A user types ``@bot query`` somewhere; returns the inline query's id."""
        if len(query) > MAX_QUERY_CHARS:
            raise ValueError("Telegram cuts inline queries at 256 characters")
        with self._cond:
            user = self._require_user(user_id)
            query_id = f"{self.bot_id}{next(self._inline_ids):08d}"
            self._inline_answers[query_id] = None
            payload = {
                "id": query_id,
                "from": dict(user),
                "query": query,
                "offset": "",
                "chat_type": chat_type,
            }
            self._enqueue("inline_query", payload, hidden=not self.inline_mode)
            return query_id

    def inline_answer(self, query_id: str) -> dict[str, Any] | None:
        """The answer the bot gave an inline query (results with their shown text), or None."""
        with self._cond:
            return self._inline_answers.get(query_id)

    def _api_answer_inline_query(self, params: Params) -> MethodResult:
        query_id = params.get_str("inline_query_id")
        if not query_id:
            raise bad_request("query_id is empty")
        results = params.get_json("results", "inline query results")
        if not isinstance(results, list):
            raise bad_request("can't parse inline query results JSON object")
        if len(results) > MAX_RESULTS:
            raise bad_request("RESULTS_TOO_MUCH")
        shown = [_check_result(r) for r in results]
        ids = [r["id"] for r in results]
        if len(set(ids)) != len(ids):
            raise bad_request("RESULT_ID_DUPLICATE")
        cache_time = params.get_int("cache_time")
        if cache_time is not None and cache_time < 0:
            raise bad_request("cache_time must be non-negative")
        offset = params.get_str("next_offset") or ""
        if len(offset.encode()) > MAX_OFFSET_BYTES:
            raise bad_request("NEXT_OFFSET_INVALID")
        button = params.get_json("button", "inline query results button")
        if button is not None:
            _check_button(button)
        with self._cond:
            if query_id not in self._inline_answers or self._inline_answers[query_id]:
                raise bad_request(_BAD_QUERY)
            answer = {
                "results": shown,
                "cache_time": cache_time,
                "is_personal": params.get_bool("is_personal"),
                "button": button,
            }
            self._inline_answers[query_id] = answer
        return True, {}

    def _init_inline(self) -> None:
        self._inline_ids = itertools.count(1)
        self._inline_answers: dict[str, dict[str, Any] | None] = {}


def _check_result(result: Any) -> dict[str, Any]:
    """One InlineQueryResult as Telegram checks it; returns it with the text it would post."""
    if not isinstance(result, dict):
        raise bad_request("can't parse inline query result")
    result_id = result.get("id")
    if not isinstance(result_id, str) or not 1 <= len(result_id.encode()) <= MAX_RESULT_ID_BYTES:
        raise bad_request("RESULT_ID_INVALID")
    if result.get("type") != "article":  # the only kind sectorbot sends; others unchecked
        raise bad_request(f"unsupported inline query result type {result.get('type')!r}")
    if not result.get("title"):
        raise bad_request("RESULT_TITLE_EMPTY")
    content = result.get("input_message_content")
    if not isinstance(content, dict) or not str(content.get("message_text") or "").strip():
        raise bad_request("MESSAGE_EMPTY")
    if content.get("parse_mode") not in (None, "HTML"):
        raise bad_request("only HTML is supported by this fake")
    try:
        plain, entities = (
            parse_formatted_text(content["message_text"], "HTML")
            if content.get("parse_mode") == "HTML"
            else (content["message_text"], [])
        )
    except EntityParseError as error:
        raise bad_request(f"can't parse entities: {error}") from None
    if not plain.strip():
        raise bad_request("MESSAGE_EMPTY")
    if utf16_len(plain) > MAX_MESSAGE_LENGTH:
        raise bad_request("MESSAGE_TOO_LONG")
    return {**result, "plain_text": plain, "entities": entities}


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not button.get("text"):
        raise bad_request("BUTTON_TEXT_INVALID")
    start = button.get("start_parameter")
    if start is not None and not _START_PARAMETER.fullmatch(str(start)):
        raise bad_request("START_PARAM_INVALID")
    if start is None and "web_app" not in button:
        raise bad_request("BUTTON_TYPE_INVALID")
