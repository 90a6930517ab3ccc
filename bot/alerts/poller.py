"""The feed list, and polling it: conditional GET, parse, store, reindex, match, queue alerts.

A feed is due when its `next_poll` has passed (or it was never polled). A successful poll
schedules the next one `interval` later, ±10 % so that many feeds added together do not stay
in lock-step; a failing feed waits `interval × 2^failures`, at most 24 h, and keeps its last
error for /alertstatus. A 304 Not Modified is a success with nothing to do.

Only documents a poll *adds* can alert (the `alert_inbox` trigger fires on inserts): an
updated entry, the same URL seen again, or the same text under another URL never alerts
again. The first successful poll of a new feed stores its backlog without alerting, because
those entries are history to the people subscribed, not news.

Removing a feed only deactivates it: its row keeps the polling history (last success,
failures, ETag), and adding the same URL again brings it back instead of starting over.

Everything here is synchronous and blocking; the bot runs `Poller.poll` in a worker thread.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sectorbot.bot.alerts.match import InboxResult, Matcher, discard_inbox, process_inbox
from sectorbot.bot.alerts.store import AlertStore
from sectorbot.corpus.dates import stamp
from sectorbot.corpus.errors import FeedError, InputError
from sectorbot.corpus.fetch import Fetcher
from sectorbot.corpus.text import one_line

if TYPE_CHECKING:
    from sectorbot.bot.service import Service
    from sectorbot.index.vectors import ReindexResult

log = logging.getLogger(__name__)

JITTER = 0.10
MAX_BACKOFF = 24 * 3600.0
MAX_URL_LENGTH = 2000


# the feed list -----------------------------------------------------------------------------


def check_feed_url(url: str) -> str:
    """The URL, trimmed; FeedError with a one-line reason unless it is a plain http(s) URL."""
    url = url.strip()
    if not url:
        raise FeedError("the feed URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise FeedError(f"the feed URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise FeedError("a feed URL cannot contain spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise FeedError("the feed URL is malformed") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FeedError("a feed URL must start with http:// or https://")
    if not parts.hostname:
        raise FeedError("the feed URL has no host name")
    return url


def add_feed(store: AlertStore, url: str, added_by: str | None = None) -> tuple[int, bool]:
    """Add (or re-activate) a feed; returns its id and whether it is new or was inactive."""
    return store.add_feed(check_feed_url(url), added_by, stamp())


def read_feeds_file(path: Path) -> list[str]:
    """The URLs of a feeds file: one per line; blank lines and `#` comments skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [s for s in (line.split("#", 1)[0].strip() for line in lines) if s]


# polling -----------------------------------------------------------------------------------


@dataclass
class FeedResult:
    """What polling one feed did."""

    feed_id: int
    url: str
    status: str  # "changed", "unchanged", "not-modified" or "error"
    added: list[int] = field(default_factory=list)
    updated: int = 0
    failed_entries: int = 0
    error: str | None = None
    next_poll: str = ""
    seeded: bool = False  # first poll of the feed: stored, not alerted


@dataclass
class PollReport:
    """One round over the due feeds."""

    feeds: list[FeedResult] = field(default_factory=list)
    reindex: ReindexResult | None = None
    reindex_error: str | None = None
    inbox: InboxResult = field(default_factory=InboxResult)
    seconds: float = 0.0

    @property
    def added(self) -> list[int]:
        """Ids of the documents this round added."""
        return [doc_id for f in self.feeds for doc_id in f.added]

    @property
    def alerts(self) -> int:
        """How many alerts this round queued."""
        return self.inbox.alerts

    def summary(self) -> str:
        """One line: feeds polled, new documents, failures, alerts queued."""
        errors = sum(1 for f in self.feeds if f.status == "error")
        return (
            f"polled {len(self.feeds)} feed{'s' if len(self.feeds) != 1 else ''}: "
            f"{len(self.added)} new document{'s' if len(self.added) != 1 else ''}, "
            f"{errors} failed, {self.alerts} alert{'s' if self.alerts != 1 else ''} queued"
        )


def next_delay(interval: float, failures: int, rng: random.Random) -> float:
    """Seconds until the next poll: the interval, doubled per failure up to 24 h, ±10 %."""
    base = interval if failures <= 0 else min(interval * 2**failures, MAX_BACKOFF)
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


class Poller:
    """Polls due feeds for one service; one poll at a time per process."""

    def __init__(
        self,
        service: Service,
        store: AlertStore,
        matcher: Matcher | None = None,
        interval: float | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.service = service
        self.store = store
        self.matcher = matcher or Matcher(store, service.embedder)
        self.interval = float(interval or service.settings.poll_interval)
        self.rng = rng or random.Random()
        self._lock = threading.Lock()
        self._synced = False

    @property
    def busy(self) -> bool:
        """Whether a poll is running right now."""
        return self._lock.locked()

    def sync_feeds_file(self, path: Path | None = None) -> list[str]:
        """Add the URLs of `settings.feeds_file` that the table lacks; returns those added."""
        path = path or self.service.settings.feeds_file
        self._synced = True
        if path is None:
            return []
        try:
            urls = read_feeds_file(Path(path))
        except OSError as exc:
            log.warning("cannot read the feeds file %s: %s", path, exc)
            return []
        known = self.store.feed_urls()
        added = []
        for url in urls:
            if url in known:
                continue  # a feed removed on purpose stays removed
            try:
                add_feed(self.store, url, added_by=f"file:{Path(path).name}")
            except FeedError as exc:
                log.warning("feeds file %s: skipping %r: %s", path, url, exc)
                continue
            known.add(url)
            added.append(url)
        return added

    def due(self, now: float | None = None) -> list[dict[str, Any]]:
        """Active feeds whose next poll time has come, most overdue first."""
        return self.store.due_feeds(stamp(time.time() if now is None else now))

    def poll(self, now: float | None = None, force: bool = False) -> PollReport | None:
        """Poll the due feeds (all active ones with `force`), then reindex and queue alerts.

        Returns None without doing anything when another poll is running.
        """
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self._poll(time.time() if now is None else now, force)
        finally:
            self._lock.release()

    def _poll(self, now: float, force: bool) -> PollReport:
        """One round: due feeds, then reindex, then the alert inbox."""
        started = time.perf_counter()
        if not self._synced:
            self.sync_feeds_file()
        feeds = self.store.list_feeds() if force else self.due(now)
        report = PollReport()
        if feeds:
            settings = self.service.settings
            with Fetcher(settings.fetch_timeout, settings.max_file_bytes,
                         allow_private=settings.allow_private_urls) as fetcher:  # fmt: skip
                report.feeds = [self.poll_feed(feed, fetcher, now) for feed in feeds]
        if any(f.added or f.updated for f in report.feeds):
            self._reindex(report)
        # Also drains documents that reached the inbox some other way (`sectorbot ingest` of a
        # feed URL, or a poll that crashed before matching).
        report.inbox = process_inbox(self.store, self.matcher, now)
        report.seconds = time.perf_counter() - started
        if report.feeds or report.alerts:
            log.info("%s in %.2f s", report.summary(), report.seconds)
        return report

    def _reindex(self, report: PollReport) -> None:
        """Bring the vector index up to date; a failure is reported, not raised."""
        # Alerts do not need the index (topics embed the document themselves), so a failed
        # reindex is reported and the alerts still go out; the next one catches up.
        try:
            report.reindex = self.service.reindex()
        except Exception as exc:
            report.reindex_error = one_line(f"{type(exc).__name__}: {exc}")
            log.error("reindex after polling failed: %s", report.reindex_error)

    def poll_feed(self, feed: dict[str, Any], fetcher: Fetcher, now: float) -> FeedResult:
        """Fetch one feed (conditionally), store its entries, record the outcome."""
        result = FeedResult(feed["id"], feed["url"], "unchanged")
        try:
            fetched = fetcher.fetch(feed["url"], feed["etag"], feed["last_modified"])
        except InputError as exc:
            return self._failed(feed, result, str(exc), now)
        if fetched is None:
            result.status = "not-modified"
            return self._succeeded(feed, result, None, now)
        ingest = self.service.add_feed_entries(fetched.body, feed["url"], fetcher)
        whole_feed = [e for e in ingest.failed if e.ref == feed["url"]]
        if whole_feed and not (ingest.added or ingest.updated or ingest.unchanged):
            return self._failed(feed, result, whole_feed[0].reason, now)
        result.added, result.updated = ingest.added, len(ingest.updated)
        result.failed_entries = len(ingest.failed)
        result.status = "changed" if ingest.changed else "unchanged"
        if feed["last_ok"] is None and result.added:
            discard_inbox(self.store, result.added)
            result.seeded = True
        return self._succeeded(feed, result, fetched, now)

    def _succeeded(
        self, feed: dict[str, Any], result: FeedResult, fetched: Any, now: float
    ) -> FeedResult:
        """Record a successful poll (200 or 304) and schedule the next one."""
        result.next_poll = stamp(now + next_delay(self.interval, 0, self.rng))
        values: dict[str, Any] = {
            "last_polled": stamp(now),
            "last_ok": stamp(now),
            "last_error": None,
            "failures": 0,
            "next_poll": result.next_poll,
        }
        if fetched is not None:  # a 304 keeps the validators it answered to
            values.update(etag=fetched.etag, last_modified=fetched.last_modified)
        if fetched is not None and not feed["title"]:
            values["title"] = self._title_of(result)
        self.store.update_feed(feed["id"], values)
        return result

    def _failed(
        self, feed: dict[str, Any], result: FeedResult, reason: str, now: float
    ) -> FeedResult:
        """Record a failed poll and back off."""
        failures = int(feed["failures"] or 0) + 1
        result.status, result.error = "error", one_line(reason)
        result.next_poll = stamp(now + next_delay(self.interval, failures, self.rng))
        log.warning("feed %s failed (%d in a row): %s", feed["url"], failures, result.error)
        self.store.update_feed(
            feed["id"],
            {
                "last_polled": stamp(now),
                "last_error": result.error,
                "failures": failures,
                "next_poll": result.next_poll,
            },
        )
        return result

    def _title_of(self, result: FeedResult) -> str | None:
        """The feed's title, as the stored entries name their source."""
        docs = self.store.documents(result.added[:1])
        return (docs[0]["source"] or None) if docs else None
