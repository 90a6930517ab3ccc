"""`sectorbot run` webhook processes under what a stranger or a crash does to them.

The test plays Telegram (and the load balancer), posting to each worker's port on 127.0.0.1;
replies go to the fake Bot API. The stores hold no reports (each process still loads the model
at start): the posted updates are commands, which need none.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakebotapi import FakeBotAPI
from tests.test_workers_processes import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    POLL_TICK,
    Processes,
    environment,
    free_port,
    listening,
    until,
    update,
)
from tests.test_workers_processes import _no_proxies as _no_proxies  # autouse: loopback only
from tests.test_workers_processes import fake as fake
from tests.test_workers_processes import processes as processes

SECRET = "hook-Secret_2"
DELAY = "TESTING_SECTORBOT_HANDLING_DELAY"
MB = 1 << 20


def webhook_env(fake: FakeBotAPI, url: str, data: Path, port: int, **extra: str) -> dict[str, str]:
    env = environment(
        fake, url, data, webhook_url=f"https://127.0.0.1:{port}/hook", webhook_port=port,
        webhook_secret=SECRET,
    )  # fmt: skip
    return {**env, **extra}


def rss_mb(pid: int) -> float:
    """The process's resident memory, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def flood(port: int, secret: str | None, size: int) -> int | None:
    """POST a body of `size` bytes; the status the server answered, if any.

    The answer is read as soon as the headers are out (a refusal comes then), and the body
    is still sent in 1 MB writes, until the server hangs up or takes it all.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n"
    head += f"X-Telegram-Bot-Api-Secret-Token: {secret}\r\n" if secret else ""
    writer.write(head.encode() + b"Content-Type: application/json\r\n\r\n")
    try:
        line = await asyncio.wait_for(reader.readline(), 1.0)
    except TimeoutError:
        line = b""
    try:
        for _ in range(size // MB):
            writer.write(b" " * MB)
            await writer.drain()
        line = line or await asyncio.wait_for(reader.readline(), 60)
    except (ConnectionError, OSError):
        pass  # refused and closed: the rest was never read
    finally:
        writer.close()
    return int(line.split()[1]) if line else None


@pytest.mark.slow
@pytest.mark.model
async def test_large_bodies_are_refused_unread_and_cost_no_memory(
    fake: FakeBotAPI, processes: Processes, tmp_path: Path
) -> None:
    port = free_port()
    web = processes.start("web", "run", webhook_env(fake, "", tmp_path / "web", port))
    await until(lambda: listening(port), 120, "the webhook listening")
    await asyncio.sleep(1.0)  # let start-up settle before the first measure
    before = rss_mb(web.pid)
    codes = await asyncio.gather(*(flood(port, None, 90 * MB) for _ in range(8)))
    assert set(codes) <= {403, None} and 403 in codes, codes
    grown = rss_mb(web.pid) - before
    assert grown < 40, f"{grown:.0f} MB more after 8 posts of 90 MB without the secret"
    codes = await asyncio.gather(*(flood(port, SECRET, 90 * MB) for _ in range(8)))
    assert set(codes) <= {413, None} and 413 in codes, codes
    grown = rss_mb(web.pid) - before
    assert grown < 40, f"{grown:.0f} MB more after 16 posts of 90 MB"
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:  # still answering
        ok = await http.post(f"http://127.0.0.1:{port}/hook", json=update(1, ALICE, "/help"),
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})  # fmt: skip
    assert ok.status_code == 200
    await until(lambda: fake.messages_to(ALICE), 30, "the answer")
    assert processes.alive("web") and "Traceback" not in processes.log("web")


USERS = (ALICE, BOB, CAROL, DAVE)


async def post_all(port: int, first_id: int) -> list[int]:
    """One /help from each user to the worker on `port`: the statuses."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    url = f"http://127.0.0.1:{port}/hook"
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        posts = [
            http.post(url, json=update(first_id + n, user, "/help"), headers=headers)
            for n, user in enumerate(USERS)
        ]
        return [r.status_code for r in await asyncio.gather(*posts)]


async def kill_after_acknowledging(
    fake: FakeBotAPI, processes: Processes, name: str, port: int
) -> None:
    """Post a batch to a worker that delays handling, see it acknowledged, SIGKILL it."""
    await until(lambda: listening(port), 120, f"{name} listening")
    assert await post_all(port, 500) == [200] * len(USERS)
    processes.running[name].send_signal(signal.SIGKILL)
    processes.running[name].wait(timeout=10)
    assert not any(fake.messages_to(user) for user in USERS)  # it died before answering


async def answered_once(fake: FakeBotAPI) -> None:
    what = "an answer to every acknowledged update"
    await until(lambda: all(fake.messages_to(u) for u in USERS), 20 * POLL_TICK, what)
    await asyncio.sleep(2 * POLL_TICK)  # a second answer would arrive by now
    for user in USERS:
        assert len(fake.messages_to(user)) == 1, [c.plain_text for c in fake.messages_to(user)]


@pytest.mark.slow
@pytest.mark.model
async def test_a_killed_webhook_workers_acknowledged_updates_are_answered_by_another(
    postgres_url: str, fake: FakeBotAPI, processes: Processes, tmp_path: Path
) -> None:
    ports = [free_port(), free_port()]
    slow: dict[str, Any] = {DELAY: "600"}
    processes.start("web1", "run", webhook_env(fake, postgres_url, tmp_path / "w1", ports[0],
                                               **slow))  # fmt: skip
    processes.start("web2", "run", webhook_env(fake, postgres_url, tmp_path / "w2", ports[1]))
    await until(lambda: listening(ports[1]), 120, "web2 listening")
    await kill_after_acknowledging(fake, processes, "web1", ports[0])
    await answered_once(fake)
    assert processes.log("web2").count("taken over") == len(USERS)
    assert processes.alive("web2") and "Traceback" not in processes.log("web2")


@pytest.mark.slow
@pytest.mark.model
async def test_a_restarted_webhook_answers_what_it_acknowledged_before_it_was_killed(
    fake: FakeBotAPI, processes: Processes, tmp_path: Path
) -> None:
    port = free_port()
    data = tmp_path / "web"
    processes.start("web1", "run", webhook_env(fake, "", data, port, **{DELAY: "600"}))
    await kill_after_acknowledging(fake, processes, "web1", port)
    processes.start("web2", "run", webhook_env(fake, "", data, port))  # same SQLite file
    await answered_once(fake)
    assert processes.log("web2").count("taken over") == len(USERS)
