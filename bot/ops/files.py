"""The one guard for every command that writes a file: export, feedback export, backup.

A file is written only outside the data directory (where it could replace the live database
or the index), only into a folder that exists, and under a temporary name beside the target
that is renamed at the end, so a failed or interrupted write leaves nothing half-done.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from sectorbot.bot.errors import OperationError
from sectorbot.bot.settings import Settings


def check_outside_data(settings: Settings, out: Path) -> None:
    """Refuse a path that is the data directory or inside it."""
    data = settings.data_dir.resolve()
    target = out.resolve()
    if target == data or data in target.parents:
        raise OperationError(
            f"{out} is inside the data directory {settings.data_dir}: writing there could "
            "overwrite the live database; write it somewhere else"
        )


def check_output(settings: Settings, out: Path) -> None:
    """Refuse a target inside the data directory, a folder, or one in a missing folder."""
    check_outside_data(settings, out)
    target = out.resolve()
    if target.is_dir():
        raise OperationError(f"{out} is a folder: give a file name")
    if not target.parent.is_dir():
        raise OperationError(f"no folder {out.parent}: create it first, or write elsewhere")


def temporary_beside(out: Path) -> Path:
    """The name a file is written under before it is renamed to `out`."""
    return out.with_name(f".{out.name}.{os.getpid()}.tmp")


@contextmanager
def _replaced(settings: Settings, out: Path) -> Iterator[Path]:
    """The temporary path to write `out` under; renamed into place only when the block ends
    without an error, removed in any case."""
    check_output(settings, out)
    tmp = temporary_beside(out)
    try:
        yield tmp
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def written(settings: Settings, out: Path) -> Iterator[IO[str]]:
    """A UTF-8 text file at `out`, checked first and renamed into place only when whole."""
    with _replaced(settings, out) as tmp:
        try:
            fh = tmp.open("w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise OperationError(f"cannot write {out}: {exc.strerror or exc}") from exc
        with fh:
            yield fh


def write_bytes(settings: Settings, out: Path, data: bytes) -> None:
    """Bytes (a chart) at `out`, on the same terms as `written`."""
    with _replaced(settings, out) as tmp:
        try:
            tmp.write_bytes(data)
        except OSError as exc:
            raise OperationError(f"cannot write {out}: {exc.strerror or exc}") from exc
