"""The list of feeds to poll, kept in the store's `feeds` table.

Removing a feed only deactivates it: its row keeps the polling history (last success,
failures, ETag), and adding the same URL again brings it back instead of starting over.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sectorbot.corpus.dates import stamp
from sectorbot.corpus.errors import FeedError
from sectorbot.corpus.store import Store

MAX_URL_LENGTH = 2000


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


def add_feed(store: Store, url: str, added_by: str | None = None) -> tuple[int, bool]:
    """Add (or re-activate) a feed; returns its id and whether it is new or was inactive."""
    url = check_feed_url(url)
    with store.transaction():
        row = store.db.execute("SELECT id, active FROM feeds WHERE url = ?", [url]).fetchone()
        if row is not None:
            feed_id, active = int(row[0]), bool(row[1])
            if not active:
                store.db.execute("UPDATE feeds SET active = 1 WHERE id = ?", [feed_id])
            return feed_id, not active
        cursor = store.db.execute(
            "INSERT INTO feeds (url, added, added_by, active) VALUES (?, ?, ?, 1)",
            [url, stamp(), added_by],
        )
        return int(cursor.lastrowid or 0), True


def list_feeds(store: Store, include_inactive: bool = False) -> list[dict[str, Any]]:
    """The feeds, oldest first, with what a person needs to judge their health."""
    where = "" if include_inactive else "WHERE active = 1"
    return store.query(
        "SELECT id, url, title, added, added_by, last_polled, last_ok, last_error, failures, "
        f"active FROM feeds {where} ORDER BY id"
    )


def remove_feed(store: Store, feed_id: int) -> bool:
    """Deactivate a feed; False when there is no active feed with that id."""
    with store.transaction():
        cursor = store.db.execute(
            "UPDATE feeds SET active = 0 WHERE id = ? AND active = 1", [feed_id]
        )
        return cursor.rowcount > 0
