"""What a test reads back: the calls the bot made, the ones refused, and chats' messages.

Owns: the accepted-call and rejection records, the fake's own internal errors, the current
state of messages, and waiting for a call or for an update to be fetched (blocking and
``async`` forms).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from tests.fakebotapi.wire import Call, Rejection
from tests.fakebotapi.world import World, copy_json

_ASYNC_WAIT_STEP = 0.005  # seconds the async waits yield to the event loop between checks


class Records(World):
    """Inspection and waiting helpers for tests."""

    @property
    def sent(self) -> list[Call]:
        with self._cond:
            return list(self._sent)

    @property
    def rejected(self) -> list[Rejection]:
        with self._cond:
            return list(self._rejected)

    @property
    def internal_errors(self) -> list[str]:
        """Tracebacks of bugs in the fake itself (answered with 500); should stay empty."""
        with self._cond:
            return list(self._internal_errors)

    def calls(self, method: str) -> list[Call]:
        with self._cond:
            return [call for call in self._sent if call.method == method]

    def messages_to(self, chat_id: int, *, include_edits: bool = False) -> list[Call]:
        """Accepted ``sendMessage`` calls (and optionally ``editMessageText``) to a chat."""
        methods = {"sendMessage", "editMessageText"} if include_edits else {"sendMessage"}
        with self._cond:
            return [c for c in self._sent if c.method in methods and c.chat_id == chat_id]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """The current state of a message (after edits) or ``None`` if absent/deleted."""
        with self._cond:
            chat = self._chats.get(chat_id)
            found = chat.messages.get(message_id) if chat else None
            return copy_json(found) if found is not None else None

    def chat_history(self, chat_id: int) -> list[dict[str, Any]]:
        """All live messages of a chat, from users and the bot, oldest first."""
        with self._cond:
            chat = self._require_chat(chat_id)
            return [copy_json(chat.messages[k]) for k in sorted(chat.messages)]

    def clear_records(self) -> None:
        """Forget recorded calls and rejections (chats and messages stay)."""
        with self._cond:
            self._sent.clear()
            self._rejected.clear()

    # ---------------------------------------------------------------- waiting

    def wait_for(
        self, predicate: Callable[[Call], bool], timeout: float = 10.0, *, since: int = 0
    ) -> Call:
        """Block until a recorded call (index >= ``since``) satisfies ``predicate``.

        Do not use from a coroutine running on the bot's event loop: use
        :meth:`wait_for_async`.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            checked = since
            while True:
                found, checked = self._first_match(predicate, checked)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._timeout_message(timeout))
                self._cond.wait(remaining)

    async def wait_for_async(
        self, predicate: Callable[[Call], bool], timeout: float = 10.0, *, since: int = 0
    ) -> Call:
        """Like :meth:`wait_for` but yields to the event loop while waiting."""
        deadline = time.monotonic() + timeout
        checked = since
        while True:
            with self._cond:
                found, checked = self._first_match(predicate, checked)
                if found is not None:
                    return found
                if time.monotonic() >= deadline:
                    raise TimeoutError(self._timeout_message(timeout))
            await asyncio.sleep(_ASYNC_WAIT_STEP)

    def _first_match(
        self, predicate: Callable[[Call], bool], checked: int
    ) -> tuple[Call | None, int]:
        """The first call from index ``checked`` on that matches, and where to look next time."""
        for call in self._sent[checked:]:
            if predicate(call):
                return call, checked
        return None, max(checked, len(self._sent))

    def wait_delivered(self, update_id: int, timeout: float = 10.0) -> None:
        """Block until ``getUpdates`` has handed ``update_id`` to the bot."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._delivered_up_to < update_id:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"update {update_id} was not fetched within {timeout}s")
                self._cond.wait(remaining)

    async def wait_delivered_async(self, update_id: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                if self._delivered_up_to >= update_id:
                    return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"update {update_id} was not fetched within {timeout}s")
            await asyncio.sleep(_ASYNC_WAIT_STEP)

    def _timeout_message(self, timeout: float) -> str:
        recent = ", ".join(
            f"{c.method}(chat_id={c.chat_id!r}, text={c.text!r})" for c in self._sent[-8:]
        )
        refused = ", ".join(f"{r.method}: {r.description}" for r in self._rejected[-5:])
        return (
            f"no matching call within {timeout}s; recent calls: [{recent}]; "
            f"recent rejections: [{refused}]"
        )
