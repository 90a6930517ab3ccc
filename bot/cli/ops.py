"""Operations commands for `sectorbot`: doctor, export, import and backup.

`bot/cli/main.py` calls `register(cli)` at import. Each command works on the data directory of the
settings (`--data-dir`), and is safe to run while the bot is running on the same directory.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import click

from sectorbot.bot.cli.common import service_of, settings_of
from sectorbot.bot.ops import doctor as health
from sectorbot.bot.ops import transfer
from sectorbot.bot.ops.backup import backup as make_backup
from sectorbot.bot.ops.files import written
from sectorbot.bot.settings import Settings
from sectorbot.corpus.text import format_size


def register(cli: click.Group) -> None:
    for command in (doctor, export, import_, backup):
        cli.add_command(command)


@click.command()
@click.option(
    "--quick", is_flag=True, help="Skip the model, the feeds and deep scans (health checks)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.pass_context
def doctor(ctx: click.Context, quick: bool, as_json: bool) -> None:
    """Check settings, data directory, database, model, index, feeds and disk.

    One line per check, OK, WARN or FAIL; exits 1 when anything FAILs. Nothing is repaired.
    """
    checks = health.doctor(settings_of(ctx), quick=quick)
    if as_json:
        click.echo(json.dumps(health.report_json(checks), indent=2, ensure_ascii=False))
    else:
        click.echo(health.format_report(checks))
    ctx.exit(1 if health.worst(checks) == "FAIL" else 0)


@click.command()
@click.option(
    "--out",
    default="-",
    show_default=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="The JSONL file to write, or - for standard output.",
)
@click.option(
    "--without-vectors",
    is_flag=True,
    help="Leave out the passages' vectors (a smaller file; the importer embeds again).",
)
@click.pass_context
def export(ctx: click.Context, out: Path, without_vectors: bool) -> None:
    """Documents (with their passages' vectors), feeds and subscriptions as JSONL, from one
    consistent snapshot."""
    settings = settings_of(ctx)
    with _output(settings, out) as stream:
        counts = transfer.export(settings, stream, vectors=not without_vectors)
    where = "standard output" if str(out) == "-" else str(out)
    listed = ", ".join(f"{n} {table}" for table, n in counts.items())
    click.echo(f"exported {listed} to {where}", err=True)


@contextmanager
def _output(settings: Settings, out: Path) -> Iterator[IO[str]]:
    if str(out) == "-":
        # UTF-8 whatever the locale says: the file is data, not terminal text.
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
        try:
            yield stream
        finally:
            stream.flush()
            stream.detach()
        return
    # Written beside the target and renamed at the end: an export cut short never looks whole.
    with written(settings, out) as fh:
        yield fh


@click.command(name="import")
@click.argument(
    "source", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
)
@click.option("--no-index", is_flag=True, help="Store only; do not update the vector index.")
@click.pass_context
def import_(ctx: click.Context, source: Path, no_index: bool) -> None:
    """Load an export into this data directory; importing twice changes nothing.

    Each line that cannot go in is named with its reason and the rest still goes in
    (exit code 1 if any failed). Then the index is brought in step with the store.
    """
    service = service_of(ctx)
    limit = settings_of(ctx).max_file_bytes
    with _input(source) as stream:
        report = transfer.import_lines(service, transfer.bounded_lines(stream, limit), limit)
    for line in report.summary_lines():
        click.echo(line)
    for number, reason in report.failed:
        click.echo(f"  line {number}: {reason}")
    if not no_index:
        notice = service.ensure_index()
        click.echo(f"index: {notice or 'up to date'}")
    ctx.exit(1 if report.failed else 0)


@contextmanager
def _input(source: Path) -> Iterator[IO[bytes]]:
    # Bytes, split on b"\n" only: each line is decoded on its own, so one broken line is
    # reported instead of ending the import.
    if str(source) == "-":
        yield sys.stdin.buffer
        return
    with source.open("rb") as fh:
        yield fh


@click.command()
@click.argument("dest")
@click.pass_context
def backup(ctx: click.Context, dest: str) -> None:
    """A consistent copy of the database (DEST file or folder), safe while the bot runs.

    DEST ending in "/" is a folder, made if it does not exist yet. The index is not copied:
    it is rebuilt from the database when needed.
    """
    folder = dest.endswith(("/", os.sep))
    result = make_backup(settings_of(ctx), Path(dest), folder=folder)
    click.echo(
        f"backup: {result.path} ({format_size(result.size)}, {result.documents} documents, "
        f"{result.chunks} passages, {result.seconds:.1f} s)"
    )
