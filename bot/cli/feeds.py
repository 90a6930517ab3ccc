"""`sectorbot feeds add|list|remove` and `sectorbot poll`: the feed list and one poll round.

`bot/cli/main.py` calls `register(cli)`. Everything goes through the alerts runtime. Alerts that a
poll queues are sent by the running bot (its send job), not by this command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from sectorbot.bot.cli.common import service_of
from sectorbot.corpus.errors import FeedError

if TYPE_CHECKING:
    from sectorbot.bot.alerts.runtime import AlertsRuntime


def register(cli: click.Group) -> None:
    """Add the `feeds` group and the `poll` command to the CLI."""
    cli.add_command(feeds)
    cli.add_command(poll)


def _runtime(ctx: click.Context) -> AlertsRuntime:
    """The alerts runtime over the run's Service (imported late: `--help` stays quick)."""
    from sectorbot.bot.alerts.runtime import AlertsRuntime

    service = service_of(ctx)
    return AlertsRuntime.open(service, service.settings)


@click.group()
def feeds() -> None:
    """The feeds polled for new reports and alerts."""


@feeds.command("add")
@click.argument("url")
@click.pass_context
def feeds_add(ctx: click.Context, url: str) -> None:
    """Follow a feed (RSS or Atom) by URL."""
    try:
        feed_id, new = _runtime(ctx).add_feed(url, added_by="cli")
    except FeedError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"feed {feed_id}: {'added' if new else 'already followed'}: {url.strip()}")


@feeds.command("list")
@click.pass_context
def feeds_list(ctx: click.Context) -> None:
    """The feeds followed, with their last poll, last error and next poll."""
    rows = _runtime(ctx).list_feeds()
    if not rows:
        click.echo("No feeds. Add one with: sectorbot feeds add URL")
        return
    for row in rows:
        click.echo(f"{row['id']:>3}  {row['url']}")
        if row["title"]:
            click.echo(f"     title:     {row['title']}")
        click.echo(f"     last poll: {row['last_polled'] or 'never'}"
                   f"{'  (ok)' if row['last_ok'] and not row['last_error'] else ''}")  # fmt: skip
        if row["last_error"]:
            click.echo(f"     error:     {row['last_error']} ({row['failures']} in a row)")
        click.echo(f"     next poll: {row['next_poll'] or 'now'}")


@feeds.command("remove")
@click.argument("feed_id", type=int)
@click.pass_context
def feeds_remove(ctx: click.Context, feed_id: int) -> None:
    """Stop following a feed (its documents stay in the corpus)."""
    if not _runtime(ctx).remove_feed(feed_id):
        click.echo(f"No active feed {feed_id}.", err=True)
        ctx.exit(1)
    click.echo(f"feed {feed_id} removed")


@click.command()
@click.option("--all", "everything", is_flag=True, help="Poll every feed, due or not.")
@click.pass_context
def poll(ctx: click.Context, everything: bool) -> None:
    """Poll the due feeds once: store new entries, reindex, queue alerts."""
    runtime = _runtime(ctx)
    report = runtime.poll(force=everything)
    if report is None:  # cannot happen in a fresh process; kept for the type checker
        click.echo("another poll is running", err=True)
        ctx.exit(1)
    assert report is not None
    for feed in report.feeds:
        click.echo(_feed_line(feed))
        for doc in runtime.documents(feed.added):
            click.echo(f"    + {doc['published'] or 'undated'}  {doc['title']}")
    if report.reindex is not None:
        r = report.reindex
        click.echo(f"index: +{r.added} -{r.removed} passages ({r.total} in all)")
    if report.reindex_error:
        click.echo(f"index: not updated: {report.reindex_error}", err=True)
    click.echo(report.summary())
    ctx.exit(1 if any(f.status == "error" for f in report.feeds) else 0)


def _feed_line(feed: Any) -> str:
    if feed.status == "error":
        return f"feed {feed.feed_id}: error: {feed.error} (next try {feed.next_poll})"
    if feed.status == "not-modified":
        return f"feed {feed.feed_id}: not modified (304)"
    seeded = " (first poll: stored without alerts)" if feed.seeded else ""
    return (
        f"feed {feed.feed_id}: {len(feed.added)} new, {feed.updated} updated"
        f"{', ' + str(feed.failed_entries) + ' entries failed' if feed.failed_entries else ''}"
        f"{seeded}"
    )
