"""`sectorbot feedback export`: the answers readers voted 👎, as `sectorbot eval` questions.

`bot/cli/main.py` calls `register(cli)`. The votes come from the Telegram bot's 👍/👎 buttons.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from sectorbot.bot.cli.common import service_of, settings_of
from sectorbot.bot.ops.files import check_output, written


def register(cli: click.Group) -> None:
    """Add the `feedback` group to the CLI."""
    cli.add_command(feedback)


@click.group()
def feedback() -> None:
    """What readers thought of the answers (👍/👎 in Telegram)."""


@feedback.command("export")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Write to this file instead of standard output (never inside the data directory).",
)
@click.pass_context
def export(ctx: click.Context, out: Path | None) -> None:
    """The 👎 answers as JSONL for `sectorbot eval` (fill in each empty "answer")."""
    if out is not None:  # before the store opens: a refused path touches nothing
        check_output(settings_of(ctx), out)
    items = service_of(ctx).disliked_questions()
    lines = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    if out is None:
        click.echo(lines, nl=False)
        return
    with written(settings_of(ctx), out) as fh:
        fh.write(lines)
    click.echo(f"wrote {len(items)} question{'' if len(items) == 1 else 's'} to {out}", err=True)
