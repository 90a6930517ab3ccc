"""A store's SQLite file opened as it is, without migrating: for copies and checks.

Operations may run while the bot writes the same file from another process, and `doctor`
must change nothing, so none of this goes through `Store` (which migrates). `health` is the
database's own check: SQLite's integrity, the schema against the migrations this version
knows, and what is stored.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sectorbot.corpus.health import Check, Status
from sectorbot.corpus.legacy_migrations import is_legacy
from sectorbot.corpus.migrations import recorded
from sectorbot.corpus.text import one_line

Migrated = tuple[str, str]  # (migration set, migration name)


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

    def applied_migrations(self) -> set[Migrated]:
        """(set, name) of each migration recorded, read as the next start would rewrite an
        older record: this changes nothing."""
        if not self.has_table("_migrations"):
            return set()
        with self.connect() as conn:
            return recorded(conn)

    def pending_migrations(self, known: Sequence[Migrated]) -> list[Migrated]:
        """The migrations of `known` (in order) this file has not had yet."""
        applied = self.applied_migrations()
        return [pair for pair in known if pair not in applied]

    def opening_would_change(self, known: Sequence[Migrated]) -> bool:
        """Whether opening the store would write to this file: migrations to apply, or the
        record of a previous version to rewrite (which that version, still running, could
        no longer read)."""
        if self.pending_migrations(known):
            return True
        with self.connect() as conn:
            columns = [row[1] for row in conn.execute("PRAGMA table_info(_migrations)")]
        return is_legacy(columns)

    def health(self, quick: bool, known: Sequence[Migrated]) -> list[Check]:
        """The "database" check: integrity, schema against `known` migrations, counts."""
        try:
            problem = self._integrity_problem(quick)
            if problem:
                return [Check("database", "FAIL", problem)]
            status, schema = self._schema_state(known)
            counts = f"{self.count('documents')} documents, {self.count('chunks')} passages"
        except sqlite3.DatabaseError as exc:
            return [Check("database", "FAIL", f"{self.path} cannot be read: {one_line(str(exc))}")]
        check = "quick check" if quick else "integrity check"
        return [Check("database", status, f"{check} ok; {counts}; {schema}")]

    def _integrity_problem(self, quick: bool) -> str | None:
        problems = self.problems(quick)
        if problems:
            pragma = "quick_check" if quick else "integrity_check"
            return f"{pragma} found {len(problems)} problems, first: {one_line(problems[0])}"
        if quick:
            return None
        broken = self.broken_references()
        if broken:
            return f"{len(broken)} rows point at rows that do not exist (first in {broken[0]})"
        fts = self.fts_problem()
        if fts:
            return f"the full-text index disagrees with the passages ({one_line(fts)})"
        return None

    def _schema_state(self, known: Sequence[Migrated]) -> tuple[Status, str]:
        if not self.has_table("_migrations"):
            return "FAIL", "not a sectorbot database (no _migrations table)"
        unknown = sorted(self.applied_migrations() - set(known))
        if unknown:
            first = ".".join(unknown[0])
            return "WARN", f"schema has migrations this version does not know ({first}, ...)"
        pending = self.pending_migrations(known)
        if pending:
            return "WARN", f"{len(pending)} migrations pending (applied at the next start)"
        return "OK", f"schema current ({len(known)} migrations)"
