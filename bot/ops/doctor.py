"""`sectorbot doctor`: health checks of settings, data directory, database, backend, workers,
model, indexes, feeds and disk.

Doctor only reports: it never repairs, creates or migrates anything, and it may run while the
bot runs (the database is read through `DatabaseFile`, which does not migrate).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sectorbot.bot.alerts import migrations as alert_migrations
from sectorbot.bot.alerts.store import active_feed_validators
from sectorbot.bot.feedback import migrations as feedback_migrations
from sectorbot.bot.preferences import migrations as preference_migrations
from sectorbot.bot.settings import TOKEN_RE, Settings, webhook_problem
from sectorbot.bot.workers import migrations as worker_migrations
from sectorbot.corpus import migrations
from sectorbot.corpus.database_file import DatabaseFile
from sectorbot.corpus.text import format_size, one_line

if TYPE_CHECKING:
    from sectorbot.index.vectors import Manifest, VectorIndex

Status = Literal["OK", "WARN", "FAIL"]
STATUS_ORDER: dict[Status, int] = {"OK": 0, "WARN": 1, "FAIL": 2}
FEED_CHECK_TIMEOUT = 5.0
TELEGRAM_CHECK_TIMEOUT = 10.0
# Below this size even a quick check hashes and loads the index file (milliseconds); above
# it a health check that runs every minute only reads the manifest.
QUICK_HASH_LIMIT = 64_000_000
DISK_FAIL_BYTES = 100_000_000
DISK_WARN_BYTES = 1_000_000_000
LIVE_TICKS = 3  # a process silent for this many poll ticks is not counted as live


@dataclass
class Check:
    name: str
    status: Status
    detail: str


def worst(checks: Iterable[Check]) -> Status:
    return max((c.status for c in checks), key=STATUS_ORDER.__getitem__, default="OK")


def doctor(settings: Settings, quick: bool = False) -> list[Check]:
    """Every check in display order. `quick` skips the model, the feeds and deep scans."""
    checks = [
        _guarded("settings", lambda: check_settings(settings)),
        _guarded("token", lambda: check_token(settings)),
        data_dir := _guarded("data dir", lambda: check_data_dir(settings)),
    ]
    database = None
    if data_dir.status != "FAIL":
        database = _guarded("database", lambda: check_database(settings, quick))
        checks.append(database)
        if database.status != "FAIL" and (settings.database_url or settings.db_path.is_file()):
            checks.append(_guarded("backend", lambda: check_backend(settings)))
            checks.append(_guarded("workers", lambda: check_workers(settings)))
    if not quick:
        if settings.telegram_bot_token and TOKEN_RE.fullmatch(settings.telegram_bot_token):
            checks.append(_guarded("telegram", lambda: check_telegram(settings)))
        checks.append(_guarded("model", lambda: check_model(settings)))
    if database and database.status != "FAIL" and settings.db_path.is_file():
        checks.append(_guarded("index", lambda: check_index(settings, quick)))
        checks.append(_guarded("lexical", lambda: check_lexical(settings)))
        if not quick:
            checks.append(_guarded("feeds", lambda: check_feeds(settings)))
    checks.append(_guarded("disk", lambda: check_disk(settings)))
    return checks


def _guarded(name: str, check: Callable[[], tuple[Status, str]]) -> Check:
    # A check that crashes is itself a finding; the report must still come out whole.
    try:
        status, detail = check()
    except Exception as exc:
        status, detail = "FAIL", f"check crashed: {type(exc).__name__}: {one_line(str(exc))}"
    return Check(name, status, detail)


def format_report(checks: list[Check]) -> str:
    lines = [f"{c.status:<5} {c.name:<9} {c.detail}" for c in checks]
    tally = Counter(c.status for c in checks)
    lines.append(f"doctor: {tally['OK']} OK, {tally['WARN']} WARN, {tally['FAIL']} FAIL")
    return "\n".join(lines)


def report_json(checks: list[Check]) -> dict[str, Any]:
    return {"status": worst(checks), "checks": [asdict(c) for c in checks]}


def check_settings(settings: Settings) -> tuple[Status, str]:
    # Settings are validated when the CLI starts: getting here means they are valid.
    private = (
        "links from feeds and chat may reach private addresses (SECTORBOT_ALLOW_PRIVATE_URLS)"
        if settings.allow_private_urls
        else "links from feeds and chat kept off private addresses"
    )
    return "OK", (
        f"valid; data dir {settings.data_dir}, model {settings.embedding_model} "
        f"({settings.embedding_backend}), logs {settings.log_format}/{settings.log_level}; "
        f"{private}"
    )


def check_token(settings: Settings) -> tuple[Status, str]:
    token = settings.telegram_bot_token
    if not token:
        return "WARN", "TELEGRAM_BOT_TOKEN not set: `sectorbot run` opens the terminal chat"
    if not TOKEN_RE.fullmatch(token):  # never echo any part of it
        return "FAIL", "TELEGRAM_BOT_TOKEN is malformed"
    problem = webhook_problem(settings)
    if problem:
        return "FAIL", problem
    mode = "webhook with a secret" if settings.webhook_url else "polling"
    return "OK", f"TELEGRAM_BOT_TOKEN set and well-formed ({mode} mode)"


def check_telegram(settings: Settings) -> tuple[Status, str]:
    """Ask Telegram who the bot is (getMe), and what it can see in groups."""
    import httpx

    url = f"{settings.telegram_api_url}{settings.telegram_bot_token}/getMe"
    try:
        response = httpx.post(url, timeout=TELEGRAM_CHECK_TIMEOUT)
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:  # the message could quote the URL: not shown
        return "WARN", f"could not ask the Bot API who the bot is ({type(exc).__name__})"
    if not body.get("ok"):
        if response.status_code in (401, 404):
            return "FAIL", "Telegram rejected TELEGRAM_BOT_TOKEN (revoked or mistyped?)"
        return "WARN", f"getMe failed: {one_line(str(body.get('description')))}"
    me = body.get("result") or {}
    name = f"@{me.get('username')}"
    inline = "inline mode on" if me.get("supports_inline_queries") else "inline mode off"
    if me.get("can_read_all_group_messages"):
        return "OK", f"{name}: reads all group messages; {inline}"
    return "WARN", (
        f"{name}: privacy mode is on, so in groups /ask and replies to the bot work but "
        "mentions may not reach it; to switch it off: @BotFather, /setprivacy, choose the bot, "
        f"Disable, then remove the bot from each group and add it again; {inline}"
    )


def check_data_dir(settings: Settings) -> tuple[Status, str]:
    path = settings.data_dir
    if path.exists() and not path.is_dir():
        return "FAIL", f"{path} exists but is not a directory"
    if not path.exists():
        parent = _existing_ancestor(path)
        if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
            return "OK", f"{path} does not exist yet and will be created"
        return "FAIL", f"{path} does not exist and {parent} does not let it be created"
    # Really write: os.access misjudges read-only mounts, ACLs and full disks.
    try:
        fd, name = tempfile.mkstemp(dir=path, prefix=".doctor-")
        try:
            os.write(fd, b"sectorbot doctor\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(name)
    except OSError as exc:
        return "FAIL", f"{path} is not writable: {exc.strerror or exc}"
    return "OK", f"{path} is writable"


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.absolute().parents):
        if candidate.exists():
            return candidate
    return Path("/")


def check_database(settings: Settings, quick: bool) -> tuple[Status, str]:
    if settings.database_url:
        return "OK", "on PostgreSQL (SECTORBOT_DATABASE_URL): see backend"
    path = settings.db_path
    if not path.exists():
        return "WARN", "no database yet: `sectorbot run` loads the sample, `ingest` adds more"
    db = DatabaseFile(path)
    try:
        problem = _integrity_problem(db, quick)
        if problem:
            return "FAIL", problem
        schema_status, schema = _schema_state(db)
        counts = f"{db.count('documents')} documents, {db.count('chunks')} passages"
    except sqlite3.DatabaseError as exc:
        return "FAIL", f"{path} cannot be read: {one_line(str(exc))}"
    check = "quick check" if quick else "integrity check"
    return schema_status, f"{check} ok; {counts}; {schema}"


def check_backend(settings: Settings) -> tuple[Status, str]:
    """Which database the store is on, and for PostgreSQL its pool (opened, never migrated)."""
    from sectorbot.corpus.database import open_database

    db = open_database(settings.store_target)  # StoreError (unreachable) fails the check
    try:
        info = db.describe()
    finally:
        db.close()
    if info["backend"] != "postgresql":
        return "OK", f"sqlite {info.get('path')} (one process writes; several need PostgreSQL)"
    return "OK", (
        f"postgresql {info['url']}; pool {info['pool_size']} open, {info['pool_available']} "
        f"idle, at most {info['pool_max']}, {info['requests_waiting']} waiting"
    )


def check_workers(settings: Settings) -> tuple[Status, str]:
    """Who holds the job lease, and each live process with its index lag."""
    from sectorbot.bot.workers.lease import JOBS
    from sectorbot.bot.workers.store import read_lease, read_workers
    from sectorbot.corpus.database import open_database
    from sectorbot.corpus.dates import stamp

    now = time.time()
    db = open_database(settings.store_target)
    try:
        lease = read_lease(db, JOBS)
        live = read_workers(db, stamp(now - LIVE_TICKS * settings.poll_tick))
    finally:
        db.close()
    held = lease is not None and lease["expires"] > stamp(now)
    if held:
        assert lease is not None
        lease_text = f"job lease held by {lease['holder']} until {lease['expires'][11:19]} UTC"
    else:
        lease_text = "job lease free"
    workers = [_worker_line(w) for w in live]
    text = f"{lease_text}; " + (
        f"{len(workers)} live: " + "; ".join(workers) if workers else "no live workers"
    )
    if live and not held:
        return "WARN", text + " (nobody polls feeds or sends alerts: start `sectorbot worker`)"
    return "OK", text


def _worker_line(worker: dict[str, Any]) -> str:
    lag = int(worker["stored_now"]) - int(worker["index_passages"] or 0)
    return (
        f"{worker['role']} {worker['holder']} seen {worker['last_seen'][11:19]} UTC, index "
        f"{worker['index_passages']} of {worker['stored_now']} passages (lag {lag})"
    )


def _integrity_problem(db: DatabaseFile, quick: bool) -> str | None:
    problems = db.problems(quick)
    if problems:
        pragma = "quick_check" if quick else "integrity_check"
        return f"{pragma} found {len(problems)} problems, first: {one_line(problems[0])}"
    if quick:
        return None
    broken = db.broken_references()
    if broken:
        return f"{len(broken)} rows point at rows that do not exist (first in {broken[0]})"
    fts = db.fts_problem()
    if fts:
        return f"the full-text index disagrees with the passages ({one_line(fts)})"
    return None


# Every migration set this version applies, in the order the stores open: the corpus's, then
# each feature's.
MIGRATION_SETS = (
    migrations.MIGRATIONS,
    alert_migrations.MIGRATIONS,
    feedback_migrations.MIGRATIONS,
    preference_migrations.MIGRATIONS,
    worker_migrations.MIGRATIONS,
)


def _known_migrations() -> list[str]:
    """Every migration this version applies to a SQLite file, in order."""
    return [name for migration_set in MIGRATION_SETS for name, _ in migration_set.sqlite]


def _schema_state(db: DatabaseFile) -> tuple[Status, str]:
    if not db.has_table("_migrations"):
        return "FAIL", "not a sectorbot database (no _migrations table)"
    known = _known_migrations()
    pending = _pending_migrations(db)
    unknown = sorted(db.applied_migrations() - set(known))
    if unknown:
        return "WARN", f"schema has migrations this version does not know ({unknown[0]}, ...)"
    if pending:
        return "WARN", f"{len(pending)} migrations pending (applied at the next start)"
    return "OK", f"schema current ({len(known)} migrations)"


def _pending_migrations(db: DatabaseFile) -> list[str]:
    applied = db.applied_migrations()
    return [name for name in _known_migrations() if name not in applied]


def check_model(settings: Settings) -> tuple[Status, str]:
    from sectorbot.index.embedding import get_embedder
    from sectorbot.index.errors import SearchIndexError

    started = time.perf_counter()
    embedder = get_embedder(
        settings.embedding_model, settings.embedding_backend, settings.embedding_batch_size
    )
    try:
        dim = embedder.dim
    except SearchIndexError as exc:
        return "FAIL", str(exc)
    seconds = time.perf_counter() - started
    return "OK", f"{embedder.model_id} loads offline (dimension {dim}, {seconds:.1f} s)"


def check_index(settings: Settings, quick: bool) -> tuple[Status, str]:
    from sectorbot.corpus.store import Store
    from sectorbot.index.embedding import get_embedder
    from sectorbot.index.vectors import IndexProblem, VectorIndex, fingerprint

    if _pending_migrations(DatabaseFile(settings.db_path)):
        # Opening the store would migrate it, and doctor changes nothing.
        return "WARN", "not checked while migrations are pending (see database)"
    store = Store(settings.db_path)
    try:
        embedder = get_embedder(
            settings.embedding_model, settings.embedding_backend, settings.embedding_batch_size
        )
        vectors = VectorIndex(settings.index_dir, store, embedder, settings.approx_index_threshold)
        ids = store.chunk_ids()
        try:
            manifest = _read_index(vectors, quick)
        except IndexProblem as problem:
            return _index_problem(str(problem), len(ids))
    finally:
        store.close()
    if manifest.fingerprint != fingerprint(ids):
        return "WARN", (
            f"index is out of step with the store ({manifest.count} passages indexed, "
            f"{len(ids)} stored): run `sectorbot reindex`"
        )
    large = quick and _index_bytes(vectors) > QUICK_HASH_LIMIT
    verified = "manifest checked, file too large to hash quickly" if large else "checksum ok"
    return "OK", f"{manifest.count} passages ({manifest.kind}, {verified}), built {manifest.built}"


def check_lexical(settings: Settings) -> tuple[Status, str]:
    """The saved BM25 index; a damaged one is rebuilt at start, so it only warns."""
    from sectorbot.corpus.store import Store
    from sectorbot.index.lexical import LexicalIndex, LexicalIndexProblem

    if _pending_migrations(DatabaseFile(settings.db_path)):
        return "WARN", "not checked while migrations are pending (see database)"
    store = Store(settings.db_path)
    try:
        index = LexicalIndex(store, settings.index_dir)
        stored = store.chunk_count()
        if index.path is None or not index.path.exists():
            return "OK", f"not saved yet: read from the {stored} stored passages at start"
        try:
            index.read_saved()
        except LexicalIndexProblem as problem:
            return "WARN", f"{problem}: rebuilt from the store at the next start"
        newer = store.chunk_count(after=index.max_id)
        return "OK", f"{index.count()} passages saved, {newer} stored since (read at start)"
    finally:
        store.close()


def _read_index(vectors: VectorIndex, quick: bool) -> Manifest:
    """The manifest of a servable index, or IndexProblem saying what is wrong with it."""
    from sectorbot.index.vectors import IndexProblem

    before = _mtime(vectors.manifest_path())
    try:
        return _index_manifest(vectors, quick)
    except IndexProblem:
        if _mtime(vectors.manifest_path()) == before:
            raise
    # The running bot swapped in a new index between our reads (and removed the old file):
    # that is no damage, so look once more.
    return _index_manifest(vectors, quick)


def _index_manifest(vectors: VectorIndex, quick: bool) -> Manifest:
    if quick and _index_bytes(vectors) > QUICK_HASH_LIMIT:
        return _light_index_check(vectors)
    return vectors.load_checked()[1]


def _index_bytes(vectors: VectorIndex) -> int:
    try:
        manifest = vectors.read_manifest()
        return (vectors.directory / manifest.file).stat().st_size
    except Exception:  # load_checked then names the problem
        return 0


def _light_index_check(vectors: VectorIndex) -> Manifest:
    # Without reading the vectors: a health check every minute must not hash a large file.
    from sectorbot.index.vectors import IndexProblem

    manifest = vectors.read_manifest()
    if manifest.model != vectors.embedder.model_id:
        raise IndexProblem(
            f"index was built with {manifest.model}, settings ask for {vectors.embedder.model_id}"
        )
    if not (vectors.directory / manifest.file).is_file():
        raise IndexProblem(f"index file {manifest.file} is missing")
    return manifest


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _index_problem(problem: str, stored: int) -> tuple[Status, str]:
    if problem == "no index yet":
        if stored == 0:
            return "OK", "no passages yet, so no index needed"
        return "WARN", f"no index yet for {stored} passages: run `sectorbot reindex`"
    # The bot would rebuild it at start, but a damaged file means something (disk, a person,
    # another version) broke it, and a full rebuild of a large corpus takes a long time.
    return "FAIL", f"{problem}: run `sectorbot reindex`"


def check_feeds(settings: Settings) -> tuple[Status, str]:
    feeds = active_feed_validators(DatabaseFile(settings.db_path))
    if not feeds:
        return "OK", "no active feeds"
    failures = _unreachable_feeds(settings, feeds)
    if not failures:
        return "OK", f"{len(feeds)} active feeds reachable"
    # Feeds are other people's servers: an outage there is worth a look, not a failed
    # health check (the poller retries with backoff on its own).
    shown = "; ".join(failures[:3]) + (" ..." if len(failures) > 3 else "")
    return "WARN", f"{len(failures)} of {len(feeds)} feeds unreachable: {shown}"


FeedRow = tuple[str, str | None, str | None]  # url, etag, last_modified


def _unreachable_feeds(settings: Settings, feeds: list[FeedRow]) -> list[str]:
    from sectorbot.corpus.errors import FetchError
    from sectorbot.corpus.fetch import Fetcher

    def probe(feed: FeedRow) -> str | None:
        url, etag, last_modified = feed
        try:
            # A conditional GET: an unchanged feed answers 304 with no body.
            fetcher.fetch(url, etag=etag, last_modified=last_modified)
        except FetchError as exc:
            return str(exc)
        return None

    timeout = min(FEED_CHECK_TIMEOUT, settings.fetch_timeout)
    with Fetcher(timeout, settings.max_file_bytes) as fetcher, ThreadPoolExecutor(8) as pool:
        return [r for r in pool.map(probe, feeds) if r]


def check_disk(settings: Settings) -> tuple[Status, str]:
    where = _existing_ancestor(settings.data_dir)
    free = shutil.disk_usage(where).free
    index_bytes = _tree_size(settings.index_dir)
    text = f"{format_size(free)} free at {where}"
    if free < DISK_FAIL_BYTES or free < index_bytes:
        # A reindex writes the new vectors file beside the old one before the swap.
        return "FAIL", f"{text}: ingest and reindex will fail"
    if free < DISK_WARN_BYTES:
        return "WARN", f"{text}: less than {format_size(DISK_WARN_BYTES)}"
    return "OK", text


def _tree_size(path: Path) -> int:
    if not path.is_dir():
        return 0
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
