"""`sectorbot backup`: a consistent, checked copy of the store while the bot keeps running.

The index is not copied: it is derived, and rebuilt from the database when needed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from sectorbot.bot.errors import OperationError
from sectorbot.bot.ops.files import check_output, check_outside_data, temporary_beside
from sectorbot.bot.settings import Settings
from sectorbot.corpus.database_file import DatabaseFile
from sectorbot.corpus.text import one_line


@dataclass
class BackupResult:
    path: Path
    size: int
    documents: int
    chunks: int
    seconds: float


def copy_database(source: Path, dest: Path) -> None:
    """Copy a database that another process may be writing, as one consistent snapshot."""
    if not source.is_file():
        raise OperationError(f"no database at {source}")
    DatabaseFile(source).copy_to(dest)


def backup(settings: Settings, dest: Path, folder: bool = False) -> BackupResult:
    """Write a consistent, checked copy of the store to `dest`: a file, or a folder (an
    existing one, or any when `folder` is set: it is made) that gets a dated file name."""
    if settings.database_url:
        raise OperationError(
            "the store is in PostgreSQL: back it up with pg_dump, or with `sectorbot export`"
        )
    started = time.perf_counter()
    if folder or dest.is_dir():
        check_outside_data(settings, dest)
        dest.mkdir(parents=True, exist_ok=True)
        dest = dest / f"sectorbot-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.db"
    check_output(settings, dest)
    # Write next to the target and rename: a half-written backup never has the final name.
    tmp = temporary_beside(dest)
    try:
        copy_database(settings.db_path, tmp)
        copy = DatabaseFile(tmp)
        problems = copy.problems(quick=True)
        if problems:
            raise OperationError(f"the copy failed its check: {one_line(problems[0])}")
        documents, chunks = copy.count("documents"), copy.count("chunks")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    return BackupResult(dest, dest.stat().st_size, documents, chunks, seconds)
