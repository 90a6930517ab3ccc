"""A store's SQLite file opened as it is, without migrating: for copies and checks.

Operations may run while the bot writes the same file from another process, and `doctor`
must change nothing, so none of this goes through `Store` (which migrates).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class DatabaseFile:
    """One SQLite file, each call on its own short autocommit connection."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        # Autocommit: nothing here should leave a transaction (and its locks) open.
        conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    def copy_to(self, dest: Path) -> None:
        """Copy the database as one consistent snapshot, even while another process writes."""
        dest.unlink(missing_ok=True)
        with self.connect() as src, DatabaseFile(dest).connect() as dst:
            # pages=-1 copies every page in a single step under one read transaction, so the
            # copy is a snapshot even while the bot commits; smaller steps would restart on
            # every write from another connection.
            src.backup(dst, pages=-1)
            # The copy inherits WAL mode; DELETE mode makes it one self-contained file.
            dst.execute("PRAGMA journal_mode = DELETE")
        with dest.open("rb") as fh:
            os.fsync(fh.fileno())

    def problems(self, quick: bool) -> list[str]:
        """What SQLite's own check finds wrong (`quick_check` or `integrity_check`)."""
        pragma = "quick_check" if quick else "integrity_check"
        with self.connect() as conn:
            found = [r[0] for r in conn.execute(f"PRAGMA {pragma}").fetchall()]
        return [] if found == ["ok"] else found

    def broken_references(self) -> list[str]:
        """Tables holding rows that point at rows that do not exist."""
        with self.connect() as conn:
            return [r[0] for r in conn.execute("PRAGMA foreign_key_check").fetchall()]

    def fts_problem(self) -> str | None:
        """FTS5's own check of the full-text index against the passages."""
        with self.connect() as conn:
            try:
                conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
            except sqlite3.DatabaseError as exc:
                return str(exc)
        return None

    def has_table(self, table: str) -> bool:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        with self.connect() as conn:
            return conn.execute(sql, [table]).fetchone() is not None

    def count(self, table: str) -> int:
        with self.connect() as conn:
            return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])

    def applied_migrations(self) -> set[str]:
        if not self.has_table("_migrations"):
            return set()
        with self.connect() as conn:
            return {r[0] for r in conn.execute("SELECT name FROM _migrations").fetchall()}
