"""What every `sectorbot` command shares: the settings, one Service per run, progress bars."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from sectorbot.bot.settings import Settings

if TYPE_CHECKING:
    from sectorbot.bot.service import Service


def settings_of(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


def service_of(ctx: click.Context) -> Service:
    """The run's Service, opened on first use and closed when the command ends."""
    from sectorbot.bot.service import Service

    if "service" not in ctx.obj:
        ctx.obj["service"] = Service(settings_of(ctx))
        ctx.call_on_close(ctx.obj["service"].close)
    return ctx.obj["service"]


def ready_service(ctx: click.Context) -> Service:
    """A service whose index is loaded, repaired or built, saying so in one line."""
    service = service_of(ctx)
    notice = service.ensure_index(progress=bar_progress("indexing"))
    if notice:
        click.echo(f"notice: {notice}", err=True)
    return service


def bar_progress(label: str) -> Any:
    """A tqdm progress bar on stderr for long runs, created on first use."""
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if total < 200:
            return
        if "bar" not in state:
            from tqdm import tqdm

            state["bar"] = tqdm(total=total, desc=label, unit="passage", file=sys.stderr)
        state["bar"].update(done - state["bar"].n)
        if done >= total:
            state["bar"].close()

    return update
