"""The alerts' health: whether the feeds followed answer (a conditional GET each)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sectorbot.bot.alerts.store import active_feed_validators
from sectorbot.corpus.database_file import DatabaseFile
from sectorbot.corpus.errors import FetchError
from sectorbot.corpus.fetch import Fetcher
from sectorbot.corpus.health import Check

FEED_CHECK_TIMEOUT = 5.0
FeedRow = tuple[str, str | None, str | None]  # url, etag, last_modified


def health(db: DatabaseFile, fetch_timeout: float, max_bytes: int) -> list[Check]:
    """The "feeds" check: every active feed probed, read without migrating the database."""
    feeds = active_feed_validators(db)
    if not feeds:
        return [Check("feeds", "OK", "no active feeds")]
    failures = _unreachable_feeds(feeds, min(FEED_CHECK_TIMEOUT, fetch_timeout), max_bytes)
    if not failures:
        return [Check("feeds", "OK", f"{len(feeds)} active feeds reachable")]
    # Feeds are other people's servers: an outage there is worth a look, not a failed
    # health check (the poller retries with backoff on its own).
    shown = "; ".join(failures[:3]) + (" ..." if len(failures) > 3 else "")
    return [Check("feeds", "WARN", f"{len(failures)} of {len(feeds)} feeds unreachable: {shown}")]


def _unreachable_feeds(feeds: list[FeedRow], timeout: float, max_bytes: int) -> list[str]:
    def probe(feed: FeedRow) -> str | None:
        url, etag, last_modified = feed
        try:
            # A conditional GET: an unchanged feed answers 304 with no body.
            fetcher.fetch(url, etag=etag, last_modified=last_modified)
        except FetchError as exc:
            return str(exc)
        return None

    with Fetcher(timeout, max_bytes) as fetcher, ThreadPoolExecutor(8) as pool:
        return [r for r in pool.map(probe, feeds) if r]
