"""Reading updates one at a time, so that one the library cannot parse is skipped, not fatal.

PTB parses a whole `getUpdates` batch at once: one update it rejects (a newer or older shape
of some object) fails the batch, the offset never moves past it, and the bot asks for the same
batch forever, logging it whole each time. `ScreenedUpdates` wraps the request that fetches
updates and replaces each update that does not parse with a bare `{"update_id": n}`: PTB then
moves the offset past it and no handler matches it. The webhook (`webhook`) reads each posted
update with `read_update`. Either way the skipped update costs one short log line that never
quotes the payload (it is a stranger's text).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from telegram import Bot, Update
from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData

log = logging.getLogger(__name__)

# Telegram's update ids are positive and far below this; the claim column is 64-bit.
MAX_UPDATE_ID = 2**63 - 1
ERROR_CHARS = 200  # of the error's first line, in the log


def valid_update_id(value: object) -> bool:
    """Whether `value` is an update id Telegram could send (bool is an int to Python)."""
    return type(value) is int and 0 <= value <= MAX_UPDATE_ID


def read_update(data: dict[str, Any], bot: Bot | None) -> Update | None:
    """The update in `data` (whose id is valid), or None after one log line saying why not."""
    try:
        return Update.de_json(data, bot)
    except Exception as exc:  # whatever the library's parser raises: the update is skipped
        first = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"[:ERROR_CHARS]
        log.warning("update %s could not be read and was skipped: %s", data["update_id"], first)
        return None


def screen(items: list[Any]) -> list[Any]:
    """A `getUpdates` result with every unreadable update replaced by its bare id (and an
    item without a valid id dropped): the offset still moves past each of them."""
    kept: list[Any] = []
    for item in items:
        update_id = item.get("update_id") if isinstance(item, dict) else None
        if not valid_update_id(update_id):
            log.warning("an update without a valid id was skipped: %.40r", update_id)
        elif read_update(item, None) is None:
            kept.append({"update_id": update_id})
        else:
            kept.append(item)
    return kept


class ScreenedUpdates(BaseRequest):
    """The request that fetches updates, with each `getUpdates` result `screen`ed."""

    def __init__(self, inner: BaseRequest) -> None:
        self.inner = inner

    @property
    def read_timeout(self) -> float | None:
        return self.inner.read_timeout

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        code, payload = await self.inner.do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )
        if code != 200 or not url.endswith("/getUpdates"):
            return code, payload
        body = json.loads(payload)
        if isinstance(body.get("result"), list):
            body["result"] = screen(body["result"])
        return code, json.dumps(body).encode()
