"""What the names of the old shared migration list stand for in the named sets.

Before each feature numbered its own migrations, one `_migrations (name, applied)` table held
one global sequence: `m001_documents` to `m014_workers` on SQLite, and on PostgreSQL one step
per feature (`pg001_corpus` to `pg005_workers`) that made that feature's tables as they then
were. `LEGACY` maps each old name onto the set and the migrations of that set it covers, so a
database made then is recorded in the new layout without running anything again. Names this
version cannot place (none were written by a released version) are kept under `UNPLACED`, so
nothing recorded is lost and `doctor` reports them.
"""

from __future__ import annotations

from collections.abc import Iterable

CORPUS = (
    "m001_documents", "m002_chunks", "m003_ingest_runs", "m004_stamps_in_milliseconds",
    "m005_namespaced_ids", "m006_vectors_and_change_counter",
)  # fmt: skip
ALERTS = (
    "m001_feeds", "m002_subscriptions", "m003_alerts", "m004_alert_stamps_in_milliseconds",
    "m005_channel_posts_alert",
)  # fmt: skip

# Old name → (set, the set's migrations it stands for).
LEGACY: dict[str, tuple[str, tuple[str, ...]]] = {
    "m001_documents": ("corpus", ("m001_documents",)),
    "m002_chunks": ("corpus", ("m002_chunks",)),
    "m003_feeds": ("alerts", ("m001_feeds",)),
    "m004_ingest_runs": ("corpus", ("m003_ingest_runs",)),
    "m005_subscriptions": ("alerts", ("m002_subscriptions",)),
    "m006_alerts": ("alerts", ("m003_alerts",)),
    "m007_stamps_in_milliseconds": ("corpus", ("m004_stamps_in_milliseconds",)),
    "m008_alert_stamps_in_milliseconds": ("alerts", ("m004_alert_stamps_in_milliseconds",)),
    "m009_feedback": ("feedback", ("m001_feedback",)),
    "m010_chat_languages": ("preferences", ("m001_chat_languages",)),
    "m011_channel_posts_alert": ("alerts", ("m005_channel_posts_alert",)),
    "m012_namespaced_ids": ("corpus", ("m005_namespaced_ids",)),
    "m013_vectors_and_change_counter": ("corpus", ("m006_vectors_and_change_counter",)),
    "m014_workers": ("workers", ("m001_workers",)),
    # Each made its feature's tables as the SQLite steps above had left them, in one step.
    "pg001_corpus": ("corpus", CORPUS),
    "pg002_alerts": ("alerts", ALERTS),
    "pg003_feedback": ("feedback", ("m001_feedback",)),
    "pg004_chat_languages": ("preferences", ("m001_chat_languages",)),
    "pg005_workers": ("workers", ("m001_workers",)),
}
UNPLACED = "unplaced"


def is_legacy(columns: list[str]) -> bool:
    """Whether a `_migrations` table with these columns is the old shared list."""
    return bool(columns) and "migration_set" not in columns


def from_legacy(rows: Iterable[tuple[str, str | None]]) -> list[tuple[str, str, str | None]]:
    """(set, name, applied) for each (old name, applied) row of the shared list, once each."""
    out: dict[tuple[str, str], str | None] = {}
    for old, applied in rows:
        feature, names = LEGACY.get(old, (UNPLACED, (old,)))
        for name in names:
            out.setdefault((feature, name), applied)
    return [(feature, name, applied) for (feature, name), applied in out.items()]
