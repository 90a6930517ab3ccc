"""Inline buttons: a user pressing one (``press_button``) and ``answerCallbackQuery``.

Owns: building the ``callback_query`` update from a message's inline keyboard, and the rule
that each query is answered at most once.
"""

from __future__ import annotations

from typing import Any

from tests.fakebotapi.wire import MethodResult, Params, bad_request
from tests.fakebotapi.world import QueryState, World, copy_json

_BAD_QUERY = "query is too old and response timeout expired or query ID is invalid"


def _check_has_button(message: dict[str, Any], message_id: int, data: str) -> None:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    datas = [b.get("callback_data") for row in rows for b in row]
    if data not in datas:
        raise ValueError(
            f"message {message_id} has no button with callback_data {data!r} (has {datas!r})"
        )


class CallbackMethods(World):
    """Button presses in, their answers out."""

    def press_button(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        data: str,
        *,
        check_button: bool = True,
    ) -> int:
        """A user presses an inline button with ``callback_data == data``; returns update id."""
        with self._cond:
            chat = self._require_chat(chat_id)
            user = self._require_user(user_id)
            message = self._require_message(chat, message_id)
            if check_button:
                _check_has_button(message, message_id, data)
            query_id = f"{self.bot_id}{next(self._query_ids):06d}"
            self._queries[query_id] = QueryState(query_id)
            query = {
                "id": query_id,
                "from": dict(user),
                "message": copy_json(message),
                "chat_instance": str(abs(chat_id) * 7919 + self.bot_id),
                "data": data,
            }
            return self._enqueue("callback_query", query)

    def _api_answer_callback_query(self, params: Params) -> MethodResult:
        query_id = params.get_str("callback_query_id")
        if not query_id:
            raise bad_request("query_id is empty")
        query = self._queries.get(query_id)
        if query is None or query.answered:
            raise bad_request(_BAD_QUERY)
        query.answered = True
        return True, {"plain_text": params.get_str("text")}
