"""Operations: health checks, consistent copies of the store, export and import.

Everything here may run while the bot is running in another process. Reads of the live
database therefore go through SQLite's backup API (one consistent snapshot) or through plain
read-only queries, and `doctor` only reports: it never repairs, creates or migrates anything.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from sectorbot.bot.errors import OperationError
from sectorbot.bot.settings import TOKEN_RE, Settings
from sectorbot.corpus import migrations
from sectorbot.corpus.dates import stamp
from sectorbot.corpus.errors import InputError
from sectorbot.corpus.fetch import format_size, one_line

if TYPE_CHECKING:
    from sectorbot.bot.service import Service
    from sectorbot.corpus.store import Store
    from sectorbot.index.vectors import Manifest, VectorIndex

Status = Literal["OK", "WARN", "FAIL"]
STATUS_ORDER: dict[Status, int] = {"OK": 0, "WARN": 1, "FAIL": 2}

EXPORT_FORMAT = "sectorbot-export"
EXPORT_VERSION = 1
# Tables owned by other features, exported when they exist so that moving the bot keeps who
# follows what; absent ones are skipped. Listed parents first (foreign keys). Each names the
# columns an import leaves out because the receiving store assigns them.
EXTRA_TABLES: dict[str, tuple[str, ...]] = {
    "chats": (),  # the chat id is Telegram's: kept
    # A new id here; UNIQUE (chat_id, kind, normalized) makes a repeated import a no-op.
    "subscriptions": ("id",),
}
# Not exported: `alerts` and `alert_inbox` point at document ids of this store, which an
# import assigns anew; imported documents are kept out of the alert inbox instead.
CORE_KINDS = {"documents": "document", "feeds": "feed"}

FEED_CHECK_TIMEOUT = 5.0
# Below this size even a quick check hashes and loads the index file (milliseconds); above
# it a health check that runs every minute only reads the manifest.
QUICK_HASH_LIMIT = 64_000_000
DISK_FAIL_BYTES = 100_000_000
DISK_WARN_BYTES = 1_000_000_000


# ---------------------------------------------------------------------------------------
# consistent copies


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    # Autocommit: nothing here should leave a transaction (and its locks) open.
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def copy_database(source: Path, dest: Path) -> None:
    """Copy a database that another process may be writing, as one consistent snapshot."""
    if not source.is_file():
        raise OperationError(f"no database at {source}")
    dest.unlink(missing_ok=True)
    with _connect(source) as src, _connect(dest) as dst:
        # pages=-1 copies every page in a single step under one read transaction, so the
        # copy is a snapshot even while the bot commits; smaller steps would restart on
        # every write from another connection.
        src.backup(dst, pages=-1)
        # The copy inherits WAL mode; DELETE mode makes it one self-contained file.
        dst.execute("PRAGMA journal_mode = DELETE")


@dataclass
class BackupResult:
    path: Path
    size: int
    documents: int
    chunks: int
    seconds: float


def backup(settings: Settings, dest: Path) -> BackupResult:
    """Write a consistent, checked copy of the store to `dest` (a file or a folder)."""
    started = time.perf_counter()
    if dest.is_dir():
        dest = dest / f"sectorbot-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.db"
    if dest.resolve() == settings.db_path.resolve():
        raise OperationError("the backup would overwrite the live database")
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Write next to the target and rename: a half-written backup never has the final name.
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        copy_database(settings.db_path, tmp)
        counts = _checked_counts(tmp)
        _fsync(tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return BackupResult(
        dest, dest.stat().st_size, counts["documents"], counts["chunks"],
        time.perf_counter() - started,
    )  # fmt: skip


def _checked_counts(path: Path) -> dict[str, int]:
    with _connect(path) as conn:
        problems = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise OperationError(f"the copy failed its check: {one_line(problems[0])}")
        return {t: _count(conn, t) for t in ("documents", "chunks")}


def _count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


def _fsync(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


# ---------------------------------------------------------------------------------------
# export


def export(settings: Settings, out: IO[str]) -> dict[str, int]:
    """Write the store as JSONL (a header line, then one line per row); return the counts."""
    with tempfile.TemporaryDirectory(prefix="sectorbot-export-") as tmp:
        snapshot = Path(tmp) / "snapshot.db"
        copy_database(settings.db_path, snapshot)
        # Counts and rows come from the same frozen copy, so the header always matches.
        with _connect(snapshot) as conn:
            conn.row_factory = sqlite3.Row
            tables = [t for t in (*CORE_KINDS, *EXTRA_TABLES) if _has_table(conn, t)]
            counts = {t: _count(conn, t) for t in tables}
            out.write(_json(export_header(counts)) + "\n")
            for table in tables:
                for row in _rows(conn, table):
                    out.write(_json(_export_line(table, dict(row))) + "\n")
    return counts


def export_header(counts: dict[str, int]) -> dict[str, Any]:
    return {
        "kind": "header",
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "counts": counts,
    }


def _has_table(conn: sqlite3.Connection, table: str) -> bool:
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return conn.execute(sql, [table]).fetchone() is not None


def _rows(conn: sqlite3.Connection, table: str) -> Iterator[sqlite3.Row]:
    # Core tables in id order (an import then assigns ids in the same order); other
    # features' tables as they are, since they may have no rowid.
    order = " ORDER BY id" if table in CORE_KINDS else ""
    yield from conn.execute(f'SELECT * FROM "{table}"{order}')


def _export_line(table: str, row: dict[str, Any]) -> dict[str, Any]:
    row = {key: _encode(value) for key, value in row.items()}
    if table in CORE_KINDS:
        return {"kind": CORE_KINDS[table], **row}
    return {"kind": "row", "table": table, "data": row}


def _encode(value: Any) -> Any:
    # SQLite values are numbers, text, NULL or BLOBs; only a BLOB (a topic's vector) needs
    # wrapping, and since no column holds an object, the wrapper cannot be mistaken.
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"base64"}:
        try:
            return base64.b64decode(value["base64"], validate=True)
        except (ValueError, TypeError):
            raise LineError("a base64 value that does not decode") from None
    if isinstance(value, dict | list):
        raise LineError(f"a value of type {type(value).__name__} where SQLite wants a scalar")
    return value


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False)


def line_table(record: dict[str, Any]) -> str:
    """The table an export line belongs to (what the header's counts are keyed by)."""
    kinds = {kind: table for table, kind in CORE_KINDS.items()}
    return kinds.get(record.get("kind", ""), str(record.get("table")))


# ---------------------------------------------------------------------------------------
# import


class LineError(InputError):
    """One line of an import file cannot go in; the message says why."""


@dataclass
class ImportReport:
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    failed: list[tuple[int, str]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # rows of tables absent here

    def count(self, table: str, status: str) -> None:
        self.counts.setdefault(table, Counter())[status] += 1

    def summary_lines(self) -> list[str]:
        lines = [
            f"{table}: added {c['added']}, updated {c['updated']}, unchanged {c['unchanged']}"
            for table, c in self.counts.items()
        ]
        lines += [f"{t}: {n} rows skipped (no such table here)" for t, n in self.skipped.items()]
        lines.append(f"failed lines: {len(self.failed)}")
        return lines


def import_lines(service: Service, lines: Iterable[str | bytes]) -> ImportReport:
    """Put an export's rows into the service's store; bad lines are reported and skipped.

    `lines` may be bytes (a file opened in binary mode): then one line that is not UTF-8 is
    reported like any other bad line instead of stopping the whole import.
    """
    from sectorbot.bot.alerts.store import AlertStore

    report = ImportReport()
    numbered = ((n, line) for n, line in enumerate(lines, start=1) if line.strip())
    first = next(numbered, None)
    if first is None:
        raise OperationError("the import file is empty")
    _check_header(first[1])
    AlertStore(service.store)  # creates the feeds, chats and subscriptions tables if missing
    for number, line in numbered:
        try:
            table, status = _import_record(service.store, _parse(line))
        except LineError as exc:
            report.failed.append((number, str(exc)))
            continue
        if status == "skipped":
            report.skipped[table] += 1
        else:
            report.count(table, status)
    return report


def _check_header(line: str | bytes) -> None:
    try:
        header = _parse(line)
    except LineError:
        header = None
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise OperationError(
            "line 1 is not a sectorbot export header (was the file made by export?)"
        )
    if header.get("version") != EXPORT_VERSION:
        raise OperationError(
            f"export format version {header.get('version')!r}; this sectorbot reads "
            f"version {EXPORT_VERSION}"
        )


def _parse(line: str | bytes) -> dict[str, Any]:
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LineError(f"not UTF-8 text (byte {exc.start + 1})") from None
    try:
        record = json.loads(line.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        raise LineError(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(record, dict):
        raise LineError("not a JSON object")
    return record


def _import_record(store: Store, record: dict[str, Any]) -> tuple[str, str]:
    kind = record.get("kind")
    try:
        if kind == "document":
            return "documents", _import_document(store, record)
        if kind == "feed":
            return "feeds", _import_feed(store, record)
        if kind == "row":
            return _import_row(store, record)
    except sqlite3.Error as exc:
        raise LineError(f"could not store: {one_line(str(exc))}") from None
    raise LineError(f"unknown kind {kind!r}")


def _import_document(store: Store, record: dict[str, Any]) -> str:
    from sectorbot.corpus.dates import parse_date
    from sectorbot.corpus.models import Document

    text = _text_field(record, "text")
    if not text.strip():
        raise LineError("document without text")
    try:
        published = parse_date(_text_field(record, "published") or None)
    except ValueError as exc:
        raise LineError(str(exc)) from None
    doc = Document(
        text=text,
        title=_text_field(record, "title"),
        url=_text_field(record, "url") or None,
        source=_text_field(record, "source"),
        author=_text_field(record, "author") or None,
        published=published,
        lang=_text_field(record, "lang") or None,
        origin_kind=_text_field(record, "origin_kind") or "import",
        origin_ref=_text_field(record, "origin_ref") or "import",
        ext_id=_text_field(record, "ext_id") or None,
    )
    status, doc_id = store.upsert_document(doc)
    if status == "added":
        _settle_imported(store, doc_id, record.get("fetched"))
    return status


def _settle_imported(store: Store, doc_id: int, fetched: Any) -> None:
    """An imported document is history, not news."""
    with store.transaction():
        if isinstance(fetched, str) and fetched:
            # When it was first fetched, not when it moved.
            store.db.execute("UPDATE documents SET fetched = ? WHERE id = ?", [fetched, doc_id])
        if store.db["alert_inbox"].exists():
            # The alerts trigger queues every new feed document; chats must not be alerted
            # about old reports because the bot moved to another machine.
            store.db.execute("DELETE FROM alert_inbox WHERE document_id = ?", [doc_id])


def _text_field(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise LineError(f"field '{key}' should be a string, not {type(value).__name__}")
    return value


def _import_feed(store: Store, record: dict[str, Any]) -> str:
    url = _text_field(record, "url").strip()
    if not url.startswith(("http://", "https://")):
        raise LineError("feed without an http(s) url")
    row = {k: v for k, v in record.items() if k not in ("kind", "id")}
    row.setdefault("added", stamp())
    return _insert_new(store, "feeds", {**row, "url": url})


def _import_row(store: Store, record: dict[str, Any]) -> tuple[str, str]:
    table, data = record.get("table"), record.get("data")
    if table not in EXTRA_TABLES:
        raise LineError(f"table {table!r} is not one that import writes")
    if not isinstance(data, dict):
        raise LineError("row without a 'data' object")
    if not store.db[table].exists():
        return table, "skipped"
    kept = {k: _decode(v) for k, v in data.items() if k not in EXTRA_TABLES[table]}
    return table, _insert_new(store, table, kept)


def _insert_new(store: Store, table: str, row: dict[str, Any]) -> str:
    """Insert a row unless one with the same key is there already (then it stays as is)."""
    columns = set(store.db[table].columns_dict)
    # Columns this schema lacks (an export from a newer version) are left out.
    values = {k: v for k, v in row.items() if k in columns}
    if not values:
        raise LineError(f"no column of table {table} in this line")
    names = ", ".join(f'"{k}"' for k in values)
    marks = ", ".join("?" * len(values))
    # ON CONFLICT DO NOTHING only passes over key clashes; OR IGNORE would also silently
    # drop rows that break NOT NULL, and those must be reported.
    sql = f'INSERT INTO "{table}" ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING'
    with store.transaction():
        cursor = store.db.execute(sql, list(values.values()))
    return "added" if cursor.rowcount > 0 else "unchanged"


# ---------------------------------------------------------------------------------------
# doctor


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
    if not quick:
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
    return "OK", (
        f"valid; data dir {settings.data_dir}, model {settings.embedding_model} "
        f"({settings.embedding_backend}), logs {settings.log_format}/{settings.log_level}"
    )


def check_token(settings: Settings) -> tuple[Status, str]:
    token = settings.telegram_bot_token
    if not token:
        return "WARN", "TELEGRAM_BOT_TOKEN not set: `sectorbot run` opens the terminal chat"
    if not TOKEN_RE.fullmatch(token):  # never echo any part of it
        return "FAIL", "TELEGRAM_BOT_TOKEN is malformed"
    mode = "webhook" if settings.webhook_url else "polling"
    return "OK", f"TELEGRAM_BOT_TOKEN set and well-formed ({mode} mode)"


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
    path = settings.db_path
    if not path.exists():
        return "WARN", "no database yet: `sectorbot run` loads the sample, `ingest` adds more"
    try:
        with _connect(path) as conn:
            problem = _integrity_problem(conn, quick)
            if problem:
                return "FAIL", problem
            schema_status, schema = _schema_state(conn)
            counts = f"{_count(conn, 'documents')} documents, {_count(conn, 'chunks')} passages"
    except sqlite3.DatabaseError as exc:
        return "FAIL", f"{path} cannot be read: {one_line(str(exc))}"
    check = "quick check" if quick else "integrity check"
    return schema_status, f"{check} ok; {counts}; {schema}"


def _integrity_problem(conn: sqlite3.Connection, quick: bool) -> str | None:
    pragma = "quick_check" if quick else "integrity_check"
    problems = [r[0] for r in conn.execute(f"PRAGMA {pragma}").fetchall()]
    if problems != ["ok"]:
        return f"{pragma} found {len(problems)} problems, first: {one_line(problems[0])}"
    if quick:
        return None
    broken = conn.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        return f"{len(broken)} rows point at rows that do not exist (first in {broken[0][0]})"
    if _has_table(conn, "chunks_fts"):
        try:  # FTS5's own consistency check of the full-text index against `chunks`
            conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
        except sqlite3.DatabaseError as exc:
            return f"the full-text index disagrees with the passages ({one_line(str(exc))})"
    return None


def _schema_state(conn: sqlite3.Connection) -> tuple[Status, str]:
    if not _has_table(conn, "_migrations"):
        return "FAIL", "not a sectorbot database (no _migrations table)"
    known = [name for listed in _migration_lists() for name, _ in listed]
    pending = _pending_migrations(conn)
    unknown = sorted(_applied_migrations(conn) - set(known))
    if unknown:
        return "WARN", f"schema has migrations this version does not know ({unknown[0]}, ...)"
    if pending:
        return "WARN", f"{len(pending)} migrations pending (applied at the next start)"
    return "OK", f"schema current ({len(known)} migrations)"


def _applied_migrations(conn: sqlite3.Connection) -> set[str]:
    if not _has_table(conn, "_migrations"):
        return set()
    return {r[0] for r in conn.execute("SELECT name FROM _migrations").fetchall()}


def _migration_lists() -> list[list[tuple[str, migrations.Migration]]]:
    from sectorbot.bot.alerts import migrations as alert_migrations

    return [migrations.MIGRATIONS, alert_migrations.MIGRATIONS]


def _pending_migrations(conn: sqlite3.Connection) -> list[str]:
    applied = _applied_migrations(conn)
    corpus, alerts = _migration_lists()
    # The alert tables come with the alerts runtime (the bot, `sectorbot feeds`, import): a
    # database that never had them is not behind, it has no alerts yet.
    listed = [*corpus, *alerts] if applied & {name for name, _ in alerts} else corpus
    return [name for name, _ in listed if name not in applied]


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

    with _connect(settings.db_path) as conn:
        pending = _pending_migrations(conn)
    if pending:
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

    with _connect(settings.db_path) as conn:
        if _pending_migrations(conn):
            return "WARN", "not checked while migrations are pending (see database)"
    store = Store(settings.db_path)
    try:
        index = LexicalIndex(store, settings.index_dir)
        stored = store.scalar("SELECT count(*) FROM chunks")
        if index.path is None or not index.path.exists():
            return "OK", f"not saved yet: read from the {stored} stored passages at start"
        try:
            index.read_saved()
        except LexicalIndexProblem as problem:
            return "WARN", f"{problem}: rebuilt from the store at the next start"
        newer = store.scalar("SELECT count(*) FROM chunks WHERE id > ?", [index.max_id])
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
    with _connect(settings.db_path) as conn:
        if not _has_table(conn, "feeds"):
            return "OK", "no feeds table"
        feeds = conn.execute(
            "SELECT url, etag, last_modified FROM feeds WHERE active = 1 ORDER BY id"
        ).fetchall()
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
