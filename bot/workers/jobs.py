"""The jobs one process runs for all: feed polling, alert sending, the index catch-up.

`Jobs` holds the alerts runtime and the lease; each round does its work only while this
process holds the lease, and every send goes through the lease's fence. The Telegram adapter
schedules the rounds (`sectorbot.bot.telegram.alerts.start_jobs`), in the polling bot, in a single
webhook process on SQLite, and in `sectorbot worker`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sectorbot.bot.alerts.runtime import AlertsRuntime
from sectorbot.bot.alerts.send import SendReport, Transport
from sectorbot.bot.workers.lease import Lease, LeaseLost
from sectorbot.bot.workers.offload import off_loop

log = logging.getLogger(__name__)


@dataclass
class Jobs:
    """The job rounds of one process, gated by its lease."""

    runtime: AlertsRuntime
    lease: Lease
    _indexed: tuple[int, int] | None = None  # the store's passages when the index last caught up

    async def keep_lease(self) -> bool:
        """Take or renew the lease (every send tick); whether this process holds it."""
        return await off_loop(self.lease.hold)

    async def poll(self, transport: Transport) -> None:
        """Poll due feeds, send what that queued, and bring the index in step with the store."""
        if not self.lease.held:
            return
        report = await self.runtime.poll_once()
        if report is not None and report.alerts:
            await self.send(transport)
        await asyncio.to_thread(self.catch_up)

    async def match_now(self, transport: Transport) -> None:
        """Match (and send) at once what a handler just stored, instead of at the next poll
        tick; only in the process that holds the lease, or takes it now because it is free."""
        if not self.lease.held and not await self.keep_lease():
            return
        report = await self.runtime.poll_once()
        if report is not None and report.alerts:
            await self.send_now(transport)

    async def send(self, transport: Transport) -> SendReport | None:
        """The send tick: send the due alerts if this process holds the lease (the fence
        checks again as it takes them)."""
        if not self.lease.held:
            return None
        return await self.send_now(transport)

    async def send_now(self, transport: Transport) -> SendReport | None:
        """Send the due alerts now unless another process holds the lease (a handler that
        queued alerts calls this; the holder's next send tick covers the other case)."""
        try:
            report = await self.runtime.send_once(transport)
        except LeaseLost:
            log.info("not sending: the job lease is held by another process")
            return None
        if report.alerts:
            log.info("sent %d alerts in %d messages", report.alerts, report.messages)
        return report

    def catch_up(self) -> None:
        """Index what other processes stored (an ingest, an admin's /ingest elsewhere)."""
        seen = self.runtime.service.passages_marker()
        if seen != self._indexed:
            self.runtime.service.ensure_index()
            self._indexed = seen
