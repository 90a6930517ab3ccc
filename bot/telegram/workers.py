"""Several processes serving one bot: each update answered once, each process's heartbeat,
and the job lease given up when the process stops.

`bot.telegram` calls `attach` for every Application it builds (the bot, or the job worker's),
puts `claim_handler()` in a group before all other handlers, and sets `stop` as `post_stop`.
Telegram posts an update again when it got no 200 in time, possibly to another worker behind
the load balancer; the first process to claim the update id in the database answers it, the
others drop it. The webhook (`bot.telegram.webhook`) claims an update with its JSON before it
acknowledges it, `done` marks it handled, and every webhook worker runs `take_over`: what a
worker acknowledged and never handled, before its heartbeat stopped, another answers. A
polling process claims in `claim`, before handling, and keeps no JSON: an update whose poller
dies while handling it is not answered at all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass, field
from typing import cast

from telegram import Update
from telegram.ext import ApplicationHandlerStop, TypeHandler

from sectorbot.bot.service import Service
from sectorbot.bot.telegram.state import App, Context
from sectorbot.bot.telegram.updates import read_update, valid_update_id
from sectorbot.bot.workers.heartbeat import Heartbeat
from sectorbot.bot.workers.lease import Lease, lease_ttl, new_holder
from sectorbot.bot.workers.offload import off_loop

log = logging.getLogger(__name__)

CLAIM_GROUP = -1  # handler groups run in ascending order: this one before the table (0)
DONE_GROUP = 1  # and this one after it
# A holder silent for this many poll ticks is taken for dead: its unhandled updates move on.
SILENT_TICKS = 3
# Seconds an accepted update waits before it is handled: read once, from the environment of
# the process (never from a request), so that a test can kill a worker in between.
HANDLING_DELAY = float(os.environ.get("TESTING_SECTORBOT_HANDLING_DELAY") or 0)


@dataclass
class Process:
    """This process as the other workers see it: its name, its lease and its heartbeat."""

    holder: str
    lease: Lease
    heartbeat: Heartbeat
    # Updates this process stored before acknowledging (or took over), not yet handled.
    accepted: set[int] = field(default_factory=set)


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
    if role.startswith("webhook"):
        app.job_queue.run_repeating(
            take_over, ticks["poll_tick"], first=ticks["poll_tick"], name="update-takeover",
            data=SILENT_TICKS * ticks["poll_tick"],
        )  # fmt: skip
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


def done_handler() -> TypeHandler[Update, Context, None]:
    return TypeHandler(Update, done)


async def claim(update: Update, context: Context) -> None:
    """Let the update through only if no process took it on before (an update the webhook
    accepted was claimed there)."""
    data = context.bot_data
    if update.update_id in data.process.accepted:
        if HANDLING_DELAY:
            await asyncio.sleep(HANDLING_DELAY)
        return
    if not valid_update_id(update.update_id):  # the column is 64-bit; Telegram's ids are small
        log.warning("update id %.40r is not one Telegram sends: dropped", update.update_id)
        raise ApplicationHandlerStop
    taken = await off_loop(data.service.claim_update, update.update_id, data.process.holder)
    if not taken:
        log.info("update %s was taken on already: dropped", update.update_id)
        raise ApplicationHandlerStop


async def done(update: Update, context: Context) -> None:
    """After the handlers (whether they succeeded or failed): an accepted update is done."""
    accepted = context.bot_data.process.accepted
    if update.update_id in accepted:
        await off_loop(context.bot_data.service.finish_update, update.update_id)
        accepted.discard(update.update_id)


async def take_over(context: Context) -> None:
    """Handle what silent workers accepted and never handled, claimed for this one."""
    assert context.job is not None
    data, app = context.bot_data, context.application
    try:
        rows = await off_loop(
            data.service.take_over_updates, data.process.holder, cast(float, context.job.data)
        )
    except Exception:  # the database may be away for a moment: the next round tries again
        log.exception("could not look for updates left by stopped workers")
        return
    for update_id, body in rows:
        update = read_update(json.loads(body), context.bot)
        log.info("update %s was left unhandled by a stopped worker: taken over", update_id)
        if update is None:
            await off_loop(data.service.finish_update, update_id)
            continue
        data.process.accepted.add(update_id)
        await app.update_queue.put(update)


async def stop(app: App) -> None:
    """After the Application stopped: give the job lease up and take the heartbeat row away."""
    process = app.bot_data.process
    try:
        await off_loop(process.lease.release)
        await off_loop(process.heartbeat.stop)
    except Exception:  # the database may be gone already; the lease then simply expires
        log.exception("could not give the job lease up")
