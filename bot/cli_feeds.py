"""`sectorbot feeds add|list|remove` and `sectorbot poll`: the feed list and one poll round.

`bot/cli.py` calls `register(cli)`. Alerts that a poll queues are
sent by the running bot (its send job), not by this command.
"""

from __future__ import annotations

from typing import Any

import click

from sectorbot.bot.cli_common import service_of
from sectorbot.corpus import feedlist
from sectorbot.corpus.errors import FeedError


def register(cli: click.Group) -> None:
    """Add the `feeds` group and the `poll` command to the CLI."""
    cli.add_command(feeds)
    cli.add_command(poll)


@click.group()
def feeds() -> None:
    """The feeds polled for new reports and alerts."""


@feeds.command("add")
@click.argument("url")
@click.pass_context
def feeds_add(ctx: click.Context, url: str) -> None:
    """Follow a feed (RSS or Atom) by URL."""
    try:
        feed_id, new = feedlist.add_feed(service_of(ctx).store, url, added_by="cli")
    except FeedError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"feed {feed_id}: {'added' if new else 'already followed'}: {url.strip()}")


@feeds.command("list")
@click.pass_context
def feeds_list(ctx: click.Context) -> None:
    """The feeds followed, with their last poll, last error and next poll."""
    from sectorbot.bot.poller import feed_status

    rows = feed_status(service_of(ctx).store)
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
    if not feedlist.remove_feed(service_of(ctx).store, feed_id):
        click.echo(f"No active feed {feed_id}.", err=True)
        ctx.exit(1)
    click.echo(f"feed {feed_id} removed")


@click.command()
@click.option("--all", "everything", is_flag=True, help="Poll every feed, due or not.")
@click.pass_context
def poll(ctx: click.Context, everything: bool) -> None:
    """Poll the due feeds once: store new entries, reindex, queue alerts."""
    from sectorbot.bot.poller import Poller

    service = service_of(ctx)
    report = Poller(service).poll(force=everything)
    if report is None:  # cannot happen in a fresh process; kept for the type checker
        click.echo("another poll is running", err=True)
        ctx.exit(1)
    assert report is not None
    for feed in report.feeds:
        click.echo(_feed_line(feed))
        for doc in _documents(service, feed.added):
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


def _documents(service: Any, ids: list[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return service.store.query(
        f"SELECT id, title, published FROM documents WHERE id IN ({marks}) ORDER BY id", ids
    )
