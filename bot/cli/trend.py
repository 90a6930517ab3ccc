"""`sectorbot trend`: a direction's daily counts as a table, JSON or a PNG chart."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sectorbot.bot.cli.common import service_of, settings_of
from sectorbot.bot.errors import OperationError
from sectorbot.bot.i18n import LANGUAGES, language
from sectorbot.bot.trend.series import DEFAULT_DAYS, MAX_DAYS
from sectorbot.index import directions


def register(cli: click.Group) -> None:
    cli.add_command(trend)


@click.command()
@click.argument("direction", default=directions.DEFAULT.name())
@click.option(
    "--days", type=click.IntRange(1, MAX_DAYS), default=DEFAULT_DAYS, show_default=True,
    help="How many days, up to the newest one with a count.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the series as JSON.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Also draw it as a PNG chart."
)
@click.option(
    "--lang", type=click.Choice(LANGUAGES), default="en", show_default=True,
    help="The language of the table's and chart's labels.",
)  # fmt: skip
@click.pass_context
def trend(
    ctx: click.Context, direction: str, days: int, as_json: bool, out: Path | None, lang: str
) -> None:
    """The daily count of attacks on a DIRECTION (a town's name in any language, or a place
    in it: Pokrovsk, Покровськ, Myrnohrad), as reports state it."""
    found = directions.resolve(direction)
    if found is None:
        known = ", ".join(d.name() for d in directions.DIRECTIONS)
        raise OperationError(f"no direction {direction!r}: name one of {known}, or a place in it")
    service = service_of(ctx)
    service.read_figures()
    series = service.trend(found, days)
    from sectorbot.bot.trend import text

    with language(lang):
        if as_json:
            click.echo(json.dumps(text.as_json(series), ensure_ascii=False, indent=2))
        elif series.points:
            click.echo(text.table(series))
        if not series.points:
            click.echo(f"no daily counts for the {found.name()} direction yet", err=True)
            ctx.exit(1)
        if out is not None:
            from sectorbot.bot.ops.files import write_bytes
            from sectorbot.bot.trend.chart import draw

            write_bytes(settings_of(ctx), out, draw(series))
            click.echo(f"chart written to {out}", err=True)
