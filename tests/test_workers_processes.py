"""Several sectorbot processes on one PostgreSQL database, as a deployment runs them.

Two `sectorbot run` webhook workers: the test plays the load balancer and Telegram, posting
each update straight to a worker's webhook port with the secret header, and the same update
to both (Telegram posts an update again when it got no 200, possibly to another worker).
Two `sectorbot worker` job workers: one holds the lease and sends; SIGKILLed, the other takes
over within a poll tick. Replies and alerts go to the fake Bot API on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sectorbot.bot.alerts import subscriptions as subs
from sectorbot.bot.alerts.poller import add_feed
from sectorbot.bot.alerts.store import AlertStore, ChatRef
from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings
from sectorbot.bot.workers.lease import JOBS
from sectorbot.bot.workers.store import read_lease
from sectorbot.corpus.database import open_database
from sectorbot.corpus.dates import stamp
from tests.commands import SECTORBOT
from tests.conftest import SAMPLE, free_port
from tests.fakebotapi import TOKEN, FakeBotAPI
from tests.httpserver import LocalServer
from tests.test_alerts import entry, rss
from tests.test_telegram import _no_proxies as _no_proxies  # autouse: talk to 127.0.0.1 only

ALICE, BOB, CAROL, DAVE, EVE, ADMIN = 2001, 2002, 2003, 2004, 2005, 1001
GROUP = -1001234567890
SECRET = "workers-Secret_1"
POLL_TICK, SEND_TICK = 3.0, 0.25  # a 3 s lease, renewed four times a second
QUESTIONS = {
    ALICE: "Who captured the lithium deposit near Shevchenko?",
    BOB: "When did Ukrainian troops withdraw from Avdiivka?",
    CAROL: "When did Russia claim to have captured Selydove?",
    DAVE: "How many residents were left in Myrnohrad when police said Russians had entered?",
}


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        api.set_privacy_mode(False)
        for uid, name in [(ALICE, "Alice"), (BOB, "Bob"), (CAROL, "Carol"), (DAVE, "Dave"),
                          (EVE, "Eve"), (ADMIN, "Ada")]:  # fmt: skip
            api.add_private_chat(uid, name, name.lower())
        api.add_group(GROUP, "Pokrovsk watchers", {ALICE: "administrator", ADMIN: "member"})
        yield api
    assert api.internal_errors == []


class Processes:
    """The sectorbot processes a test started; each one's output goes to a log file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [*SECTORBOT, command], env=env, stdout=log, stderr=subprocess.STDOUT,
            cwd=self.folder,
        )  # fmt: skip
        self.running[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def alive(self, name: str) -> bool:
        return self.running[name].poll() is None

    def stop_all(self) -> None:
        for proc in self.running.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    group = Processes(tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


def environment(fake: FakeBotAPI, url: str, data: Path, **settings: Any) -> dict[str, str]:
    """A worker's environment: no proxies, no outer settings, these settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if "proxy" not in k.lower() and not k.startswith("SECTORBOT_") and k != "TELEGRAM_BOT_TOKEN"
    }
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        SECTORBOT_TELEGRAM_API_URL=fake.base_url,
        SECTORBOT_DATA_DIR=str(data),
        SECTORBOT_DATABASE_URL=url,
        SECTORBOT_ADMIN_IDS=str(ADMIN),
        SECTORBOT_POLL_TICK=str(POLL_TICK),
        SECTORBOT_SEND_TICK=str(SEND_TICK),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    env.update({f"SECTORBOT_{k.upper()}": str(v) for k, v in settings.items()})
    return env


async def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return value


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def update(update_id: int, user: int, text: str) -> dict[str, Any]:
    sender = {"id": user, "is_bot": False, "first_name": f"User{user}"}
    chat = {"id": user, "type": "private", "first_name": f"User{user}"}
    message = {"message_id": 9000 + update_id, "from": sender, "chat": chat, "text": text,
               "date": int(time.time())}  # fmt: skip
    return {"update_id": update_id, "message": message}


def seed_sample(url: str, folder: Path) -> None:
    """The sample corpus in PostgreSQL with its passages' vectors: a worker builds its index
    from the store without embedding (this process has the model loaded already)."""
    service = Service(Settings(data_dir=folder, database_url=url))
    assert service.ingest([str(SAMPLE)]).ok
    service.reindex()
    service.close()


@pytest.mark.model
async def test_two_webhook_workers_answer_every_update_once(
    postgres_url: str,
    fake: FakeBotAPI,
    processes: Processes,
    tmp_path: Path,
) -> None:
    data = [tmp_path / "web1", tmp_path / "web2"]
    seed_sample(postgres_url, tmp_path / "seed")
    ports = [free_port(), free_port()]
    for n, (folder, port) in enumerate(zip(data, ports, strict=True), 1):
        env = environment(
            fake, postgres_url, folder, webhook_url=f"https://127.0.0.1:{port}/hook",
            webhook_port=port, webhook_secret=SECRET, questions_per_minute=3,
        )  # fmt: skip
        processes.start(f"web{n}", "run", env)
    await until(lambda: all(listening(p) for p in ports), 180, "both webhooks listening")
    hooks = [f"http://127.0.0.1:{port}/hook" for port in ports]
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}

    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:

        async def post(worker: int, body: dict[str, Any]) -> int:
            return (await http.post(hooks[worker], json=body, headers=headers)).status_code

        # Each question posted to both workers at once (a retry that reached the other one),
        # then once more to the first (a late retry): answered once.
        retried = [update(10 + n, user, text) for n, (user, text) in enumerate(QUESTIONS.items())]
        codes = await asyncio.gather(*(post(w, u) for u in retried for w in (0, 1, 0)))
        assert set(codes) == {200}
        # One user's questions spread over both workers: the limit (3 a minute) is shared.
        spread = [update(30 + n, EVE, QUESTIONS[ALICE]) for n in range(5)]
        for n, body in enumerate(spread):
            assert await post(n % 2, body) == 200
        forged = await http.post(hooks[1], json=update(99, ALICE, "/start"))
        assert forged.status_code == 403

        def answered() -> bool:
            done = all(len(fake.messages_to(user)) >= 1 for user in QUESTIONS)
            return done and len(fake.messages_to(EVE)) >= 4

        await until(answered, 120, "an answer to every question")
        await asyncio.sleep(1.5)  # anything answered twice would arrive by now

    for user in QUESTIONS:
        replies = fake.messages_to(user)
        assert len(replies) == 1, [c.plain_text for c in replies]
        assert "[1]" in (replies[0].plain_text or "")
    to_eve = [c.plain_text or "" for c in fake.messages_to(EVE)]
    assert len(to_eve) == 4, to_eve  # three answers and one notice across the two workers
    assert sum("at most 3 questions a minute" in text for text in to_eve) == 1
    assert fake.rejected == []
    dropped = processes.log("web1").count("taken on already") + processes.log("web2").count(
        "taken on already"
    )
    assert dropped == 2 * len(QUESTIONS)
    for name in ("web1", "web2"):
        assert processes.alive(name), processes.log(name)
        assert "Traceback" not in processes.log(name), processes.log(name)
    db = open_database(postgres_url)
    try:
        assert read_lease(db, JOBS) is None  # webhook workers on PostgreSQL run no jobs

        def roles() -> list[str]:
            return [r[0] for r in db.execute("SELECT role FROM workers").fetchall()]

        # Each beats once per poll tick: both rows are there within one.
        await until(lambda: len(roles()) == 2, 3 * POLL_TICK, "both workers' heartbeats")
        assert roles() == ["webhook", "webhook"]
        assert read_lease(db, JOBS) is None
    finally:
        db.close()


def alert_titles(fake: FakeBotAPI) -> list[str]:
    """Every news title in the alerts that reached the group, once per time it arrived."""
    texts = [c.plain_text or "" for c in fake.messages_to(GROUP) if "🔔" in (c.text or "")]
    return [title for text in texts for title in NEWS if title in text]


SENT = re.compile(r"sent \d+ alerts")
NEWS = [f"Police: about {n} people remain in Myrnohrad" for n in (3000, 2900, 2800, 2700)]


def news_entry(n: int, server: LocalServer) -> dict[str, str]:
    text = f"Поліція повідомила, що у Мирнограді лишилося близько {3000 - 100 * n} людей."
    return entry(f"myrnohrad-{n}", NEWS[n], text, server)


def lease_holder(url: str) -> str | None:
    db = open_database(url)
    try:
        row = read_lease(db, JOBS)
    finally:
        db.close()
    return row["holder"] if row and row["expires"] > stamp() else None


def feed_polled(url: str) -> bool:
    db = open_database(url)
    try:
        return db.execute("SELECT last_ok FROM feeds").fetchone()[0] is not None
    finally:
        db.close()


def caught_up(url: str, holder: str) -> bool:
    """Whether the worker's last heartbeat has its index holding every stored passage."""
    db = open_database(url)
    try:
        row = db.execute(
            "SELECT index_passages, (SELECT count(*) FROM chunks) FROM workers WHERE holder = ?",
            [holder],
        ).fetchone()
    finally:
        db.close()
    return row is not None and row[0] == row[1]


def alert_statuses(url: str) -> list[str]:
    db = open_database(url)
    try:
        return [r[0] for r in db.execute("SELECT status FROM alerts ORDER BY id").fetchall()]
    finally:
        db.close()


@pytest.mark.slow
async def test_one_job_worker_sends_and_another_takes_over_when_it_is_killed(
    postgres_url: str, fake: FakeBotAPI, processes: Processes, tmp_path: Path
) -> None:
    with LocalServer() as server:
        calm = [entry("calm", "Calm night in Kyiv", "Nothing about the sector today.", server)]
        feed = "/feed.xml"
        server.set(feed, rss(calm), "application/rss+xml", {"ETag": '"1"'})
        service = Service(Settings(data_dir=tmp_path / "seed", database_url=postgres_url))
        tables = AlertStore(service.store)
        subs.subscribe(tables, None, ChatRef(GROUP, "supergroup", "Watchers"), ALICE, "Myrnohrad")
        add_feed(tables, server.url(feed), added_by="test")
        service.close()

        names = ["jobs1", "jobs2"]
        for name in names:
            env = environment(fake, postgres_url, tmp_path / name, poll_interval=1,
                              allow_private_urls=1)  # fmt: skip
            processes.start(name, "worker", env)
        holder = await until(lambda: lease_holder(postgres_url), 180, "a lease holder")
        first = names[[p.pid for p in processes.running.values()].index(int(holder.split(":")[1]))]
        standby = next(n for n in names if n != first)

        await until(lambda: feed_polled(postgres_url), 90, "the first poll (the backlog)")
        await asyncio.sleep(POLL_TICK)
        news = [news_entry(0, server), news_entry(1, server)]
        server.set(feed, rss(calm + news), "application/rss+xml", {"ETag": '"2"'})
        await until(lambda: len(alert_titles(fake)) >= 2, 90, "the first two alerts")
        await until(lambda: alert_statuses(postgres_url) == ["sent", "sent"], 10, "sent marks")
        assert lease_holder(postgres_url) == holder  # one holder all along
        assert SENT.findall(processes.log(first)) == ["sent 2 alerts"]
        assert SENT.findall(processes.log(standby)) == []  # the standby never sent
        assert "lease taken" not in processes.log(standby)

        processes.running[first].send_signal(signal.SIGKILL)
        processes.running[first].wait(timeout=10)
        killed = time.monotonic()
        later = [news_entry(2, server), news_entry(3, server)]
        server.set(feed, rss(calm + news + later), "application/rss+xml", {"ETag": '"3"'})
        successor = await until(
            lambda: (h := lease_holder(postgres_url)) and h != holder and h, 30, "a new holder"
        )
        takeover = time.monotonic() - killed
        assert str(processes.running[standby].pid) == successor.split(":")[1]
        await until(lambda: len(alert_titles(fake)) >= 4, 90, "the other two alerts")
        await asyncio.sleep(1.0)  # a second copy of anything would arrive by now

        assert sorted(alert_titles(fake)) == sorted(NEWS)  # each alert exactly once
        assert alert_statuses(postgres_url) == ["sent"] * 4
        assert takeover <= POLL_TICK + 2 * SEND_TICK + 1.5, takeover  # within about a tick
        assert SENT.findall(processes.log(standby)) == ["sent 2 alerts"]

        await until(lambda: caught_up(postgres_url, successor), 30, "the survivor's heartbeat")
        doctor = subprocess.run(
            [*SECTORBOT, "doctor", "--quick"], capture_output=True, text=True, timeout=120,
            env=environment(fake, postgres_url, tmp_path / "doctor"), cwd=tmp_path,
        )  # fmt: skip
        lines = {line.split()[1]: line for line in doctor.stdout.splitlines()[:-1]}
        assert lines["backend"].startswith("OK") and "postgresql postgresql://" in lines["backend"]
        assert f"job lease held by {successor}" in lines["workers"]
        live = lines["workers"].split(" live: ", 1)[1].split("; ")
        survivor = next(p for p in live if successor in p)
        assert survivor.startswith(f"jobs {successor}") and survivor.endswith("(lag 0)")

        processes.running[standby].send_signal(signal.SIGTERM)
        assert processes.running[standby].wait(timeout=30) == 0, processes.log(standby)
        assert lease_holder(postgres_url) is None  # given up on the way out
        assert "released" in processes.log(standby)
