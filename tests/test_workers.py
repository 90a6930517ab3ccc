"""Several processes on one database: the shared rate limit, update claims and the job lease,
on SQLite and on PostgreSQL. Two `Store`s on one database stand for two processes (two
connections, or two pools); tests/test_workers_processes.py runs real processes."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sectorbot.bot.alerts.store import AlertStore, ChatRef, NewAlert, NewSubscription
from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings
from sectorbot.bot.workers import migrations as worker_migrations
from sectorbot.bot.workers.heartbeat import KEEP_UPDATES
from sectorbot.bot.workers.lease import Lease, LeaseLost, lease_ttl, new_holder
from sectorbot.bot.workers.ratelimit import StoredLimiter, Verdict
from sectorbot.bot.workers.store import WorkerStore, read_lease, read_workers
from sectorbot.corpus import migrations as corpus_migrations
from sectorbot.corpus.dates import stamp
from sectorbot.corpus.models import Document
from sectorbot.corpus.store import Store
from tests.commands import SECTORBOT

T0 = 1_780_000_000.0  # a fixed wall-clock time, so windows and expiries are exact


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def workers(store: Store) -> WorkerStore:
    return WorkerStore(store)


@pytest.fixture
def second(database_target: str, workers: WorkerStore) -> Iterator[WorkerStore]:
    """The same database through a connection (pool) of its own: another process's view."""
    other = Store(database_target)
    yield WorkerStore(other)
    other.close()


def test_migration_sets_are_named_once_and_the_tables_exist(workers: WorkerStore) -> None:
    from sectorbot.bot.alerts import migrations as alert_migrations
    from sectorbot.bot.feedback import migrations as feedback_migrations
    from sectorbot.bot.preferences import migrations as preference_migrations

    lists = [corpus_migrations, alert_migrations, feedback_migrations, preference_migrations,
             worker_migrations]  # fmt: skip
    # `_migrations` records set and name: a set name used twice would share one record.
    sets = [m.MIGRATIONS.name for m in lists]
    assert sets == ["corpus", "alerts", "feedback", "preferences", "workers"]
    tables = set(workers.corpus.db.tables())
    assert {"handled_updates", "rate_events", "rate_notices", "worker_leases", "workers"} <= tables
    assert workers.corpus.db.columns("worker_leases") == [
        "name", "holder", "acquired", "heartbeat", "expires"
    ]  # fmt: skip


def test_rate_limit_one_notice_per_window(workers: WorkerStore) -> None:
    clock = Clock()
    limiter = StoredLimiter(workers, 2, window=60, clock=clock)
    assert [limiter.check("u") for _ in range(5)] == [
        Verdict.ALLOW,
        Verdict.ALLOW,
        Verdict.NOTIFY,
        Verdict.SILENT,
        Verdict.SILENT,
    ]
    assert limiter.check("other") is Verdict.ALLOW
    clock.now = T0 + 59.0
    assert limiter.check("u") is Verdict.SILENT
    assert 0 < limiter.retry_after("u") <= 1
    clock.now = T0 + 61.0  # the window slid past both questions
    assert limiter.retry_after("u") == 0
    assert limiter.check("u") is Verdict.ALLOW
    assert limiter.check("u") is Verdict.ALLOW
    assert limiter.check("u") is Verdict.NOTIFY  # a new window: told once again


def test_rate_limit_holds_across_processes(workers: WorkerStore, second: WorkerStore) -> None:
    clock = Clock()
    one, two = (StoredLimiter(w, 3, window=60, clock=clock) for w in (workers, second))
    verdicts = [one.check(42), two.check(42), one.check(42), two.check(42), one.check(42)]
    assert verdicts == [Verdict.ALLOW] * 3 + [Verdict.NOTIFY, Verdict.SILENT]
    assert two.retry_after(42) == pytest.approx(60, abs=0.01)

    # Many questions at once from both sides: exactly `limit` pass, one notice in all.
    clock.now = T0 + 600
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: (one, two)[i % 2].check(7), range(40)))
    assert results.count(Verdict.ALLOW) == 3
    assert results.count(Verdict.NOTIFY) == 1
    assert results.count(Verdict.SILENT) == 36


def test_each_update_is_claimed_once(workers: WorkerStore, second: WorkerStore) -> None:
    when = stamp(T0)
    assert workers.claim_update(100, "a", when)
    assert not workers.claim_update(100, "a", when)  # the same process, a retried post
    assert not second.claim_update(100, "b", when)  # another process

    # Both "processes" race for the same 60 updates, several threads each.
    start = threading.Barrier(8)

    def race(n: int) -> list[int]:
        start.wait()
        side = (workers, second)[n % 2]
        return [u for u in range(1000, 1060) if side.claim_update(u, f"w{n}", when)]

    with ThreadPoolExecutor(8) as pool:
        won = [u for claimed in pool.map(race, range(8)) for u in claimed]
    assert sorted(won) == list(range(1000, 1060))

    # A day on, the claims are pruned; an update id is never reused by Telegram by then.
    later = T0 + KEEP_UPDATES + 1
    workers.prune(stamp(later - KEEP_UPDATES), stamp(later), stamp(later))
    assert workers.corpus.db.scalar("SELECT count(*) FROM handled_updates") == 0


def beat(store: WorkerStore, holder: str, at: float) -> None:
    store.heartbeat({"holder": holder, "role": "webhook", "host": "h", "pid": 1,
                     "started": stamp(at), "last_seen": stamp(at), "index_passages": 0,
                     "store_passages": 0})  # fmt: skip


def test_a_silent_workers_unhandled_updates_are_taken_over_once(
    workers: WorkerStore, second: WorkerStore
) -> None:
    early, now = T0, T0 + 100
    for u in range(1000, 1060):  # accepted by "dead", never handled
        assert workers.claim_update(u, "dead", stamp(early), f'{{"update_id": {u}}}')
    workers.claim_update(2000, "dead", stamp(early), '{"update_id": 2000}')
    workers.finish_update(2000, stamp(early))  # handled before it died: stays done
    workers.claim_update(3000, "alive", stamp(early), '{"update_id": 3000}')
    workers.claim_update(4000, "dead", stamp(early))  # claimed by a poller: no JSON kept
    beat(workers, "dead", early)
    for n in range(8):
        beat(workers, f"w{n}", now)
    beat(workers, "alive", now)

    # Eight workers look at once, from both "processes": each update goes to exactly one.
    start = threading.Barrier(8)

    def look(n: int) -> list[tuple[int, str]]:
        start.wait()
        return (workers, second)[n % 2].take_over_updates(f"w{n}", stamp(now), stamp(now - 10))

    with ThreadPoolExecutor(8) as pool:
        taken = [row for rows in pool.map(look, range(8)) for row in rows]
    assert sorted(u for u, _ in taken) == list(range(1000, 1060))
    assert all(body == f'{{"update_id": {u}}}' for u, body in taken)
    # Taken: now held by live workers, so nobody takes them again.
    assert workers.take_over_updates("w0", stamp(now + 1), stamp(now - 10)) == []


def test_lease_is_held_by_one_and_moves_when_it_expires(
    workers: WorkerStore, second: WorkerStore
) -> None:
    clock = Clock()
    ttl = lease_ttl(2.0, 0.25)
    a = Lease(workers, new_holder(), ttl, clock=clock)
    b = Lease(second, new_holder(), ttl, clock=clock)
    assert a.holder != b.holder and ttl == 2.0
    assert a.hold() and not b.hold()
    clock.now += 1.5
    assert a.hold() and not b.hold()  # renewed: lives another ttl from now
    taken_at = read_lease(workers.corpus.db, "jobs")
    assert taken_at is not None and taken_at["acquired"] == stamp(T0)
    clock.now += 1.9
    assert not b.hold()
    clock.now += 0.2  # a's last renewal + ttl has passed: b takes over
    assert b.hold() and b.held
    with pytest.raises(LeaseLost), a.fenced():  # a stalled past its expiry: the fence refuses
        pytest.fail("ran inside a fence without the lease")
    assert not a.held and not a.hold()
    b.release()
    assert a.hold()  # released: taken at once, no waiting for the expiry
    row = read_lease(second.corpus.db, "jobs")
    assert row is not None and row["holder"] == a.holder


def queued_alerts(store: Store, n: int) -> list[int]:
    """`n` pending alerts for one chat, due now."""
    alerts = AlertStore(store)
    chat = ChatRef(-100500, "supergroup", "Pokrovsk watchers")
    alerts.add_subscriptions(chat, [NewSubscription("keyword", "mine", "mine")], 1, 10, stamp(T0))
    sub_id = alerts.subscriptions(chat.chat_id)[0]["id"]
    doc_ids = []
    for i in range(n):
        doc = Document(
            text=f"Mine clearing report {i}.", title=f"Report {i}",
            url=f"https://example.org/{i}", origin_kind="feed", origin_ref="f",
        )  # fmt: skip
        doc_ids.append(store.upsert_document(doc)[1])
    new = [NewAlert(chat.chat_id, d, sub_id, "mine", "") for d in doc_ids]
    assert alerts.queue_alerts(new, doc_ids, stamp(T0)) == n
    return [a["id"] for a in alerts.due_alerts(stamp(T0))]


def test_alerts_are_taken_once_inside_the_fence(workers: WorkerStore, second: WorkerStore) -> None:
    ids = queued_alerts(workers.corpus, 5)
    clock = Clock(T0 + 1)
    a = Lease(workers, "a", 2.0, clock=clock)
    b = Lease(second, "b", 2.0, clock=clock)
    mine, theirs = AlertStore(workers.corpus), AlertStore(second.corpus)
    assert a.hold() and not b.hold()
    with a.fenced():
        taken = mine.take_due(ids, stamp(clock.now + 120), stamp(clock.now))
    assert sorted(taken) == sorted(ids)
    with pytest.raises(LeaseLost), b.fenced():
        theirs.take_due(ids, stamp(clock.now + 120), stamp(clock.now))

    clock.now += 5  # a died without sending: b takes the lease, but not a's alerts yet
    assert b.hold()
    with b.fenced():
        assert theirs.take_due(ids, stamp(clock.now + 120), stamp(clock.now)) == []
    clock.now += 120  # a's hold on them ran out: due again, and b takes them, once
    assert b.hold()
    with b.fenced():
        again = theirs.take_due(ids, stamp(clock.now + 120), stamp(clock.now))
        assert theirs.take_due(ids, stamp(clock.now + 120), stamp(clock.now)) == []
    assert sorted(again) == sorted(ids)


def test_a_heartbeat_row_comes_and_goes_with_its_process(tmp_path: Path) -> None:
    # The bot only logs a failed beat, so the beat is checked here, through Service.
    service = Service(Settings(data_dir=tmp_path))
    try:
        db = service.store.db
        heartbeat = service.heartbeat("one", "polling")
        heartbeat.beat(T0)
        [row] = read_workers(db, stamp(T0 - 1))
        assert (row["holder"], row["role"], row["last_seen"]) == ("one", "polling", stamp(T0))
        assert row["index_passages"] == row["store_passages"] == 0
        heartbeat.stop()
        assert read_workers(db, stamp(T0 - 1)) == []
    finally:
        service.close()


def test_worker_command_needs_a_token(tmp_path: Path) -> None:
    done = subprocess.run(
        [*SECTORBOT, "worker"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "sectorbot: invalid setting: TELEGRAM_BOT_TOKEN is not set: the job worker sends "
        "alerts with it"
    ]


def test_webhook_workers_on_postgresql_leave_the_jobs_to_the_job_worker() -> None:
    from sectorbot.bot.telegram.app import runs_jobs

    url = "postgresql://bot@db/sectorbot"
    hook = {"webhook_url": "https://bot.example.org/hook", "webhook_secret": "s"}
    assert runs_jobs(Settings())  # polling: the bot runs them, as before
    assert runs_jobs(Settings(database_url=url))
    assert runs_jobs(Settings(**hook))  # one webhook process on SQLite
    assert not runs_jobs(Settings(database_url=url, **hook))
