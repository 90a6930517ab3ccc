"""The database under the stores: SQLite (embedded, the default) or PostgreSQL.

Store modules write their SQL once, in the dialect both understand (`?` and `:name`
placeholders, `ON CONFLICT`, `RETURNING`), and run it through a `Database`. What differs
between the two engines lives here and nowhere else: placeholders, how connections are shared
between threads, how writers are kept apart, the change marker, and how ids are handed out.

SQLite: one connection shared by the process's threads under a lock; `BEGIN IMMEDIATE` makes
a transaction the only writer from its start. PostgreSQL: a connection pool, one connection
per thread for the length of a transaction, and a transaction-scoped advisory lock taken by
every write transaction, so that read-then-write sequences (is this document stored? then
insert it) behave as they do on SQLite even with several processes writing.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import sqlite_utils

from sectorbot.corpus.errors import StoreError
from sectorbot.corpus.health import Check
from sectorbot.corpus.redact import redact_secrets, remember_passwords

Params = Sequence[Any] | dict[str, Any]
# The advisory lock a write transaction takes unless it names another: the store's one writer.
STORE_LOCK = "store"
IN_BATCH = 500  # ids in one `IN (...)` list: well below SQLite's limit on bound parameters


class Result(Protocol):
    """What a statement gives back: rows (if any) and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


@dataclass
class Rows:
    """A statement's rows read out in full, so its connection can go back to the pool."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    rowcount: int = -1

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows


class Database:
    """The interface every store uses; `SQLiteDatabase` and `PostgresDatabase` implement it."""

    dialect: str = ""
    lock: AbstractContextManager[Any]
    integrity_errors: tuple[type[BaseException], ...] = ()
    errors: tuple[type[BaseException], ...] = ()

    def execute(self, sql: str, params: Params = ()) -> Result:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        raise NotImplementedError

    def transaction(self, lock: str | None = STORE_LOCK) -> AbstractContextManager[None]:
        """A write transaction. On PostgreSQL it holds the advisory lock `lock` till it ends:
        the store's one lock by default (writers kept apart as on SQLite), a narrower one for
        writes that only race with themselves (one user's rate window), or none for a single
        statement that is atomic on its own. SQLite always has one writer at a time."""
        raise NotImplementedError

    def columns(self, table: str) -> list[str]:
        raise NotImplementedError

    def tables(self) -> list[str]:
        raise NotImplementedError

    def scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        """The first column of the first row, or None when there is no row."""
        row = self.execute(sql, list(params)).fetchone()
        return row[0] if row else None

    def rows_in(
        self, sql: str, ids: Iterable[Any], params: Sequence[Any] = (), batch: int = IN_BATCH
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Run `sql`, whose `{ids}` stands for a list of placeholders, once per batch of ids.

        `params` are bound before the ids. Yields the rows of each batch as plain tuples.
        """
        for query, args in _in_batches(sql, ids, params, batch):
            rows = self.execute(query, args).fetchall()
            yield [tuple(r) for r in rows]

    def execute_in(
        self, sql: str, ids: Iterable[Any], params: Sequence[Any] = (), batch: int = IN_BATCH
    ) -> int:
        """Run a write whose `{ids}` stands for a list of placeholders; the rows it changed.

        Call it inside `transaction()` when the batches must stand or fall together.
        """
        changed = 0
        for query, args in _in_batches(sql, ids, params, batch):
            changed += self.execute(query, args).rowcount
        return changed

    def insert_if_new(self, table: str, row: dict[str, Any]) -> bool | None:
        """Insert a row unless one with the same key is there; None if no column fits.

        Columns this schema lacks (an export from a newer version) are left out. Only key
        clashes are passed over: a row that breaks NOT NULL raises the database's error.
        """
        columns = set(self.columns(table))
        values = {k: v for k, v in row.items() if k in columns}
        if not values:
            return None
        names = ", ".join(f'"{k}"' for k in values)
        marks = ", ".join("?" * len(values))
        # ON CONFLICT DO NOTHING rather than OR IGNORE, which would also drop rows silently.
        sql = f'INSERT INTO "{table}" ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING'
        with self.transaction():
            cursor = self.execute(sql, list(values.values()))
        return cursor.rowcount > 0

    def change_marker(self) -> tuple[int, int]:
        raise NotImplementedError

    def last_id_assigned(self, table: str) -> int:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What `doctor` shows of the backend."""
        return {"backend": self.dialect}

    def health(self) -> list[Check]:
        """The "backend" check: which database this is, and for PostgreSQL its pool."""
        info = self.describe()
        if info["backend"] != "postgresql":
            detail = f"sqlite {info.get('path')} (one process writes; several need PostgreSQL)"
            return [Check("backend", "OK", detail)]
        return [Check("backend", "OK", (
            f"postgresql {info['url']}; pool {info['pool_size']} open, {info['pool_available']} "
            f"idle, at most {info['pool_max']}, {info['requests_waiting']} waiting"
        ))]  # fmt: skip

    def close(self) -> None:
        raise NotImplementedError


def _in_batches(
    sql: str, ids: Iterable[Any], params: Sequence[Any], batch: int
) -> Iterator[tuple[str, list[Any]]]:
    """(query, arguments) for each batch of ids, `{ids}` filled with as many placeholders."""
    ids = list(ids)
    for i in range(0, len(ids), batch):
        part = ids[i : i + batch]
        yield sql.format(ids=",".join("?" * len(part))), [*params, *part]


def database_errors() -> tuple[type[BaseException], ...]:
    """What either driver raises when the database fails under a running command."""
    try:
        import psycopg
    except ImportError:
        return (sqlite3.DatabaseError,)
    return (sqlite3.DatabaseError, psycopg.Error)


def open_database(target: str | Path) -> Database:
    """A PostgreSQL database for a `postgresql://` URL, else the SQLite file at that path."""
    text = str(target)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(text)
    return SQLiteDatabase(Path(text))


def is_url(target: str | Path | None) -> bool:
    return str(target or "").startswith(("postgresql://", "postgres://"))


# SQLite -----------------------------------------------------------------------------------


class SQLiteDatabase(Database):
    """One SQLite file; one connection shared by the process's threads."""

    dialect = "sqlite"
    integrity_errors = (sqlite3.IntegrityError,)
    errors = (sqlite3.Error,)

    def __init__(self, path: Path) -> None:
        self.path = path
        memory = str(path) == ":memory:"
        if not memory:
            folder = path.parent
            if folder.exists() and not folder.is_dir():
                raise StoreError(f"the data directory {folder} is a file, not a folder")
            folder.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.utils = sqlite_utils.Database(self.conn)
        self.lock = threading.RLock()
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.execute("PRAGMA busy_timeout = 10000")
        if not memory:
            self.conn.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL still keeps every commit atomic and the file consistent after
            # a process crash; only a power cut can lose the last few commits.
            self.conn.execute("PRAGMA synchronous = NORMAL")

    def execute(self, sql: str, params: Params = ()) -> Result:
        # Read out under the lock, as on PostgreSQL: a cursor stepped later, from another
        # thread's point of view, is a statement in progress on the shared connection, and
        # a COMMIT running meanwhile fails ("SQL statements in progress").
        with self.lock:
            cursor = self.conn.execute(sql, params)
            rows = cursor.fetchall() if cursor.description else []
            return Rows(rows, cursor.rowcount)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.lock:
            self.conn.executemany(sql, rows)

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.utils.query(sql, params))

    @contextmanager
    def transaction(self, lock: str | None = STORE_LOCK) -> Iterator[None]:
        # BEGIN IMMEDIATE: this transaction is the only writer from its first statement, and
        # DDL is covered too (sqlite3 would commit it on its own otherwise).
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def columns(self, table: str) -> list[str]:
        with self.lock:
            return list(self.utils[table].columns_dict)

    def tables(self) -> list[str]:
        with self.lock:
            return self.utils.table_names()

    def change_marker(self) -> tuple[int, int]:
        """The counter every write to documents or chunks bumps (any connection)."""
        with self.lock:
            row = self.conn.execute("SELECT counter FROM store_changes WHERE id = 1").fetchone()
        return (int(row[0]) if row else 0), 0

    def last_id_assigned(self, table: str) -> int:
        with self.lock:
            row = self.conn.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = ?", [table]
            ).fetchone()
        return int(row[0]) if row else 0

    def describe(self) -> dict[str, Any]:
        return {"backend": "sqlite", "path": str(self.path)}

    def close(self) -> None:
        self.conn.close()


# PostgreSQL -------------------------------------------------------------------------------

# A `?`, a `:name` or a literal `%` outside quotes; quoted text and `::` casts pass untouched.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|::|\?|(?<![:\w]):([A-Za-z_]\w*)|%")


@lru_cache(maxsize=1024)
def pyformat(sql: str) -> str:
    """SQL with SQLite's `?` and `:name` placeholders in psycopg's `%s` / `%(name)s` form."""

    def swap(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if match.group(1):
            return f"%({match.group(1)})s"
        return token

    return _TOKENS.sub(swap, sql)


class PostgresDatabase(Database):
    """A PostgreSQL database through a psycopg connection pool."""

    dialect = "postgresql"

    def __init__(self, url: str, min_size: int = 1, max_size: int = 8) -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise StoreError(
                "SECTORBOT_DATABASE_URL names PostgreSQL, but psycopg is not installed: in the "
                "checkout, .venv/bin/pip install -e '.[postgres]'"
            ) from None
        self._psycopg = psycopg
        self.url = url
        remember_passwords(url)  # before any message could quote it
        self.integrity_errors = (psycopg.IntegrityError,)
        self.errors = (psycopg.Error,)
        self.lock = nullcontext()
        self._local = threading.local()
        # One direct attempt first: a wrong address or password is then one clear line at
        # once, rather than the pool's retries and a timeout.
        try:
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            # libpq may quote the URL back (a URL it cannot parse): mask the reason too.
            where = redact_secrets(url)
            raise StoreError(f"cannot reach {where}: {redact_secrets(reason)}") from None
        self.pool = ConnectionPool(
            url, min_size=min_size, max_size=max_size, open=False,
            kwargs={"autocommit": True}, name="sectorbot",
        )  # fmt: skip
        self.pool.open(wait=True, timeout=30)

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        held = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        with self.pool.connection() as conn:
            yield conn

    def execute(self, sql: str, params: Params = ()) -> Result:
        with self._connection() as conn:
            cursor = conn.execute(pyformat(sql), params or None)
            rows = cursor.fetchall() if cursor.description else []
            return Rows(rows, cursor.rowcount)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        with self._connection() as conn, conn.cursor() as cursor:
            cursor.executemany(pyformat(sql), rows)

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        from psycopg.rows import dict_row

        with self._connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
            cursor.execute(pyformat(sql), params or None)
            return list(cursor.fetchall()) if cursor.description else []

    @contextmanager
    def transaction(self, lock: str | None = STORE_LOCK) -> Iterator[None]:
        if getattr(self._local, "conn", None) is not None:  # already inside one
            yield
            return
        with self.pool.connection() as conn, conn.transaction():
            if lock:
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [lock])
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None

    def columns(self, table: str) -> list[str]:
        rows = self.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        return [r[0] for r in rows]

    def tables(self) -> list[str]:
        rows = self.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() ORDER BY table_name"
        ).fetchall()
        return [r[0] for r in rows]

    def change_marker(self) -> tuple[int, int]:
        """The counter every write to documents or chunks bumps (any process)."""
        row = self.execute("SELECT counter FROM store_changes WHERE id = 1").fetchone()
        return (int(row[0]) if row else 0), 0

    def last_id_assigned(self, table: str) -> int:
        row = self.execute("SELECT pg_get_serial_sequence(?, 'id')", [table]).fetchone()
        if not row or not row[0]:
            return 0
        value = self.execute(f"SELECT last_value, is_called FROM {row[0]}").fetchone()
        return int(value[0]) if value and value[1] else 0

    def ids_taken(self, table: str) -> None:
        self.execute(
            f"SELECT setval(pg_get_serial_sequence(?, 'id'), "
            f'greatest((SELECT max(id) FROM "{table}"), 1), '
            f'(SELECT max(id) FROM "{table}") IS NOT NULL)',
            [table],
        )

    def describe(self) -> dict[str, Any]:
        stats = self.pool.get_stats()
        return {
            "backend": "postgresql",
            "url": redact_secrets(self.url),
            "pool_size": stats.get("pool_size", 0),
            "pool_available": stats.get("pool_available", 0),
            "pool_max": self.pool.max_size,
            "requests_waiting": stats.get("requests_waiting", 0),
        }

    def health(self) -> list[Check]:
        """The backend line, then whether this role can create and migrate the tables."""
        return [*super().health(), self.privilege_check()]

    def privilege_check(self) -> Check:
        """The "create" check: the role may create tables in its schema (the first start
        and every migration need it). PostgreSQL 15 and later let only the database owner
        create in `public`, so a role given someone else's database can connect but not set
        it up."""
        row = self.query(
            "SELECT current_user AS role, current_schema() AS schema, "
            "coalesce(has_schema_privilege(current_schema(), 'CREATE'), false) AS can_create, "
            "to_regclass('_migrations') IS NOT NULL AS set_up"
        )[0]
        role, schema = row["role"], row["schema"]
        if schema is None:
            return Check("create", "FAIL", (
                f"no schema on role {role}'s search_path exists: create one it owns "
                f"(CREATE SCHEMA sectorbot AUTHORIZATION {role}) or set search_path"
            ))  # fmt: skip
        if row["can_create"]:
            return Check("create", "OK", f"role {role} can create and migrate tables in {schema}")
        fix = (
            f"make the role own the database (createdb -O {role} ...), or as the owner run "
            f"GRANT CREATE ON SCHEMA {schema} TO {role}"
        )
        if not row["set_up"]:
            return Check("create", "FAIL", (
                f"role {role} may not create tables in schema {schema}, so the store cannot "
                f"be set up (PostgreSQL 15+ lets only the owner create in public): {fix}"
            ))  # fmt: skip
        return Check("create", "WARN", (
            f"role {role} may not create tables in schema {schema}: the tables exist, but a "
            f"later version's migrations will fail; {fix}"
        ))  # fmt: skip

    def close(self) -> None:
        self.pool.close()
