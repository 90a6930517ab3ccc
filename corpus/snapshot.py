"""The store frozen for reading, as an export reads it: both backends side by side.

SQLite: a consistent copy of the file, read as it is. PostgreSQL: one repeatable-read,
read-only transaction. Either way counts and rows agree with each other while the bot keeps
writing the live database.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from sectorbot.corpus.database import PostgresDatabase, is_url
from sectorbot.corpus.database_file import DatabaseFile
from sectorbot.corpus.vector_store import PASSAGE_VECTORS

STREAM_ROWS = 500  # rows a PostgreSQL server-side cursor hands over at a time


class Snapshot(Protocol):
    """What an export reads: table sizes, rows, and passage vectors in document order."""

    def count(self, table: str) -> int: ...

    def rows(self, table: str, order_by_id: bool) -> Iterator[dict[str, Any]]: ...

    def passage_vectors(self) -> Iterator[tuple[Any, ...]]: ...


@contextmanager
def open_snapshot(target: str | Path) -> Iterator[Snapshot]:
    """The store at `target` (a SQLite file or a PostgreSQL URL) frozen for reading."""
    if is_url(target):
        with _postgres_snapshot(str(target)) as snapshot:
            yield snapshot
        return
    with tempfile.TemporaryDirectory(prefix="sectorbot-export-") as tmp:
        copy = SQLiteSnapshot(Path(tmp) / "snapshot.db")
        DatabaseFile(Path(target)).copy_to(copy.path)
        yield copy


class SQLiteSnapshot(DatabaseFile):
    """A copy of a SQLite store, nobody else writing it."""

    def passage_vectors(self) -> Iterator[tuple[Any, ...]]:
        """(document id, ordinal, model, backend, vector, sentence model, spans, sentence
        vectors), in document and passage order."""
        if not self.has_table("chunk_vectors"):
            return
        with self.connect() as conn:
            yield from (tuple(r) for r in conn.execute(PASSAGE_VECTORS))

    def rows(self, table: str, order_by_id: bool) -> Iterator[dict[str, Any]]:
        """Every row of a table as a dict, in id order when asked."""
        order = " ORDER BY id" if order_by_id else ""
        with self.connect() as conn:
            for row in conn.execute(f'SELECT * FROM "{table}"{order}'):
                yield dict(row)


@contextmanager
def _postgres_snapshot(url: str) -> Iterator[PostgresSnapshot]:
    database = PostgresDatabase(url, min_size=1, max_size=1)
    try:
        with database.pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield PostgresSnapshot(conn)
    finally:
        database.close()


class PostgresSnapshot:
    """Reads inside one repeatable-read transaction: counts and rows agree with each other."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def count(self, table: str) -> int:
        return int(self.conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])

    def passage_vectors(self) -> Iterator[tuple[Any, ...]]:
        """(document id, ordinal, model, backend, vector), in document and passage order."""
        with self.conn.cursor(name="export_vectors") as cursor:
            cursor.itersize = STREAM_ROWS
            cursor.execute(PASSAGE_VECTORS)
            for row in cursor:
                sentences = (row[5], bytes(row[6]), bytes(row[7])) if row[5] else (None,) * 3
                yield (*row[:4], bytes(row[4]), *sentences)

    def rows(self, table: str, order_by_id: bool) -> Iterator[dict[str, Any]]:
        from psycopg.rows import dict_row

        order = " ORDER BY id" if order_by_id else ""
        # A named (server-side) cursor streams the table instead of holding it in memory.
        with self.conn.cursor(name=f"export_{table}", row_factory=dict_row) as cursor:
            cursor.itersize = STREAM_ROWS
            cursor.execute(f'SELECT * FROM "{table}"{order}')
            for row in cursor:
                yield {k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items()}
