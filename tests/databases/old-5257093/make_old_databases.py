"""Wrote the databases beside this script: what the previous version left on disk.

`tests/test_upgrade.py` opens them as databases made by commit 5257093, the last version with
one shared list of migration names (`m001_documents` … `m014_workers` on SQLite, `pg001_corpus`
… `pg005_workers` on PostgreSQL) instead of named sets. It was run once, with that version's
code: `git archive 5257093` unpacked into a clean folder, its `corpus/`, `index/` and `bot/`
made importable as `sectorbot.*` and its `tests/` as `tests` through PYTHONPATH, then

    python make_old_databases.py OUT

which writes `OUT/sectorbot.db` (SQLite, compacted to one file) and `OUT/postgresql.sql` (a
plain `pg_dump --no-owner --no-privileges --inserts` of a schema filled the same way, on a
throwaway cluster of `tests/pgserver.py`, the schema's name replaced by `__SCHEMA__`).

It is kept to say how the files were made, not to be run again: against today's code it would
write databases in today's layout, which is not what they stand for. The files are the record.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from sectorbot.bot.alerts.store import AlertStore, ChatRef, NewAlert, NewSubscription
from sectorbot.bot.feedback.store import FeedbackStore, RatedAnswer
from sectorbot.bot.preferences.store import PreferencesStore
from sectorbot.bot.workers.store import WorkerStore
from sectorbot.corpus.models import Document
from sectorbot.corpus.store import Store

WHEN = "2026-12-01T08:00:00.000"
REPORTS = [
    Document(
        text="Assaults continued near Myrnohrad. Two attacks were repelled at Rodynske.",
        title="Evening report", url="https://example.org/reports/1", source="Example",
        published="2026-11-30", lang="en", origin_kind="feed",
        origin_ref="https://example.org/rss", ext_id="report-1",
    ),
    Document(
        text="Бої тривали біля Покровська. Противник штурмував позиції біля Котлиного.",
        title="Ранкове зведення", url="https://example.org/reports/2", source="Приклад",
        published="2026-12-01", lang="uk", origin_kind="markdown", origin_ref="notes/2.md",
    ),
]  # fmt: skip


def fill(target: str) -> None:
    """Documents, passages, their vectors, an ingest run, a feed, a subscription, an alert,
    a vote, a chat language and a worker, through the stores of the old code."""
    store = Store(target)
    run = store.start_ingest_run('["sample"]')
    ids = [store.upsert_document(doc)[1] for doc in REPORTS]
    store.finish_ingest_run(run, (2, 0, 0, 1), [("missing.md", "not found")])
    chunks = store.chunk_ids()
    store.store_vectors([(i, bytes([i]) * 8) for i in chunks], "old-model", "torch")
    store.store_sentences([(i, b"\0" * 8, b"\1" * 4) for i in chunks], "old-model")
    alerts = AlertStore(store)
    alerts.add_feed("https://example.org/rss", "admin", WHEN)
    chat = ChatRef(-100123, "supergroup", "Volunteers")
    sub = NewSubscription("keyword", "Myrnohrad", "myrnohrad")
    alerts.add_subscriptions(chat, [sub], 7, 10, WHEN)
    sub_id = alerts.subscriptions(chat.chat_id)[0]["id"]
    alert = NewAlert(chat.chat_id, ids[0], sub_id, "Myrnohrad", "Assaults continued")
    alerts.queue_alerts([alert], [ids[0]], WHEN)
    feedback = FeedbackStore(store)
    key = feedback.record_answer(RatedAnswer("Where?", ids, ["report-1"]), WHEN)
    feedback.vote(key, 7, -1, WHEN)
    PreferencesStore(store).set_chat_language(chat.chat_id, "uk", WHEN)
    WorkerStore(store).claim_update(1001, "host:1", WHEN)
    store.close()


def compact(path: Path) -> None:
    """One self-contained file (no WAL beside it), as small as SQLite makes it."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("VACUUM")
    conn.close()


def dump_postgresql(url: str, out: Path) -> None:
    """The schema `url` uses, dumped as plain SQL with its name left as `__SCHEMA__`."""
    options = parse_qs(urlparse(url).query)["options"][0]
    schema = options.split("search_path=")[1].split()[0]
    base = url.split("?")[0]
    dump = subprocess.run(
        ["pg_dump", "--no-owner", "--no-privileges", "--inserts", "-n", schema, base],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    # `\restrict` lines are psql meta-commands (newer pg_dump writes them): not SQL.
    skipped = ("-- Dumped", "\\restrict", "\\unrestrict")
    lines = [line for line in dump.splitlines() if not line.startswith(skipped)]
    out.write_text("\n".join(lines).replace(schema, "__SCHEMA__") + "\n", encoding="utf-8")


def main(folder: Path) -> None:
    from tests.pgserver import Cluster, binaries, fresh_schema

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sectorbot.db").unlink(missing_ok=True)
    fill(str(folder / "sectorbot.db"))
    compact(folder / "sectorbot.db")
    bin_dir = binaries()
    assert bin_dir is not None, "PostgreSQL is not installed"
    cluster = Cluster(bin_dir)
    try:
        url = fresh_schema(cluster.start())
        fill(url)
        dump_postgresql(url, folder / "postgresql.sql")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
