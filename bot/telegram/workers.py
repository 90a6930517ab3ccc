"""Several processes serving one bot: each update answered once, each process's heartbeat,
and the job lease given up when the process stops.

`bot.telegram` calls `attach` for every Application it builds (the bot, or the job worker's),
puts `claim_handler()` in a group before all other handlers, and sets `stop` as `post_stop`.
Telegram posts an update again when it got no 200 in time, possibly to another worker behind
the load balancer; the first process to claim the update id in the database answers it, the
others drop it. A claim is taken before the update is handled, so an update whose worker dies
while handling it is not answered at all — once at most, never twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import cast

from telegram import Update
from telegram.ext import ApplicationHandlerStop, TypeHandler

from sectorbot.bot.service import Service
from sectorbot.bot.telegram.state import App, Context
from sectorbot.bot.workers.heartbeat import Heartbeat
from sectorbot.bot.workers.lease import Lease, lease_ttl, new_holder
from sectorbot.bot.workers.offload import off_loop

log = logging.getLogger(__name__)

CLAIM_GROUP = -1  # handler groups run in ascending order: this one before the table (0)


@dataclass
class Process:
    """This process as the other workers see it: its name, its lease and its heartbeat."""

    holder: str
    lease: Lease
    heartbeat: Heartbeat


def attach(app: App, service: Service, role: str, ticks: dict[str, float]) -> Process:
    """Name this process, prepare its lease, and beat every poll tick from the start."""
    holder = new_holder()
    ttl = lease_ttl(ticks["poll_tick"], ticks["send_tick"])
    process = Process(holder, service.job_lease(holder, ttl), service.heartbeat(holder, role))
    if app.job_queue is None:
        raise RuntimeError("workers need python-telegram-bot's job queue (the [job-queue] extra)")
    app.job_queue.run_repeating(
        beat, ticks["poll_tick"], first=0, name="worker-heartbeat", data=process
    )
    return process


async def beat(context: Context) -> None:
    """Record this process's heartbeat (and prune aged rows) off the event loop."""
    assert context.job is not None
    try:
        await off_loop(cast(Process, context.job.data).heartbeat.beat)
    except Exception:  # a missed beat is not worth stopping for; the next one tries again
        log.exception("heartbeat failed")


def claim_handler() -> TypeHandler[Update, Context, None]:
    return TypeHandler(Update, claim)


async def claim(update: Update, context: Context) -> None:
    """Let the update through only if no process took it on before."""
    data = context.bot_data
    taken = await off_loop(data.service.claim_update, update.update_id, data.process.holder)
    if not taken:
        log.info("update %s was taken on already: dropped", update.update_id)
        raise ApplicationHandlerStop


async def stop(app: App) -> None:
    """After the Application stopped: give the job lease up and take the heartbeat row away."""
    process = app.bot_data.process
    try:
        await off_loop(process.lease.release)
        await off_loop(process.heartbeat.stop)
    except Exception:  # the database may be gone already; the lease then simply expires
        log.exception("could not give the job lease up")
