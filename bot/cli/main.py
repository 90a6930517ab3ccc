"""The `sectorbot` command line: the same service functions the Telegram bot uses."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sectorbot.bot.cli import feedback as cli_feedback
from sectorbot.bot.cli import feeds as cli_feeds
from sectorbot.bot.cli import ops as cli_ops
from sectorbot.bot.cli import trend as cli_trend
from sectorbot.bot.cli.common import bar_progress, ready_service, service_of, settings_of
from sectorbot.bot.errors import SectorbotError, SettingsError
from sectorbot.bot.settings import Settings, load_settings, webhook_problem

if TYPE_CHECKING:  # the search module loads faiss: not for --help
    from sectorbot.index.search import Mode


@click.group()
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where the store and index live.")
@click.version_option(package_name="sectorbot")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None) -> None:
    """sectorbot: answers about the Pokrovsk sector, with sources."""
    ctx.ensure_object(dict)
    settings = load_settings().with_overrides(data_dir=data_dir)
    _configure_logging(settings)
    ctx.obj["settings"] = settings


def _configure_logging(settings: Settings) -> None:
    from sectorbot.bot.logs import configure

    configure(settings.log_level, settings.log_format)


@cli.command()
@click.argument("targets", nargs=-1, required=True)
@click.option("--channel", help="Channel username for Telegram exports that lack one.")
@click.option("--no-index", is_flag=True, help="Store only; do not update the vector index.")
@click.pass_context
def ingest(
    ctx: click.Context, targets: tuple[str, ...], channel: str | None, no_index: bool
) -> None:
    """Add files, folders, URLs and feeds to the corpus."""
    service = service_of(ctx)
    from tqdm import tqdm

    bar = tqdm(desc="ingesting", unit="input", file=sys.stderr, disable=None, leave=False)
    report = service.ingest(list(targets), progress=lambda ref: bar.update(1), channel=channel)
    bar.close()
    click.echo(report.summary())
    for err in report.failed:
        click.echo(f"  failed: {err.ref}: {err.reason}")
    if not no_index and report.changed:
        result = service.reindex(progress=bar_progress("indexing"))
        click.echo(f"index: +{result.added} -{result.removed} passages ({result.total} in all)")
    ctx.exit(1 if report.failed else 0)


@cli.command()
@click.option("--full", is_flag=True, help="Rebuild from scratch instead of incrementally.")
@click.pass_context
def reindex(ctx: click.Context, full: bool) -> None:
    """Bring the vector index in step with the store."""
    service = service_of(ctx)
    result = service.reindex(full=full, progress=bar_progress("indexing"))
    kind = "full rebuild" if result.full else "incremental"
    click.echo(
        f"{kind}: +{result.added} -{result.removed} passages, {result.total} in all, "
        f"{result.seconds:.1f} s"
    )


@cli.command()
@click.pass_context
def reprocess(ctx: click.Context) -> None:
    """Clean stored documents again (links, banners, footnotes), keeping their ids."""
    service = service_of(ctx)
    changed, result = service.reprocess(progress=bar_progress("indexing"))
    click.echo(f"cleaned {changed} documents; index: +{result.added} -{result.removed} passages")


@cli.command()
@click.argument("question", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the answer object as JSON.")
@click.pass_context
def ask(ctx: click.Context, question: tuple[str, ...], as_json: bool) -> None:
    """Answer one question from the corpus, with sources."""
    from sectorbot.bot.render import render_text

    service = ready_service(ctx)
    answer = service.ask(" ".join(question))
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(render_text(answer))


@cli.command()
@click.argument("query", nargs=-1, required=True)
@click.option("-k", default=10, show_default=True, help="How many passages.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), default="hybrid")
@click.pass_context
def search(ctx: click.Context, query: tuple[str, ...], k: int, mode: Mode) -> None:
    """Ranked passages with their dense, lexical and fused scores."""
    service = ready_service(ctx)
    result = service.search(" ".join(query), k=k, mode=mode)
    for i, hit in enumerate(result.hits, 1):
        c = hit.chunk
        dense = f"{hit.dense:.3f}" if hit.dense is not None else "-"
        lexical = f"{hit.lexical:.2f}" if hit.lexical is not None else "-"
        click.echo(
            f"{i:2}. fused={hit.score:.4f} dense={dense} bm25={lexical}  "
            f"{(c.published or 'undated')[:10]} {c.source} — {c.title}"
        )
        click.echo("    " + " ".join(c.text.split())[:200])
    if not result.hits:
        click.echo("No passages found.")


@cli.command()
@click.pass_context
def chat(ctx: click.Context) -> None:
    """Ask questions in the terminal (an empty line or Ctrl-D ends)."""
    from sectorbot.bot.cli.terminal import run_terminal_chat

    run_terminal_chat(ready_service(ctx))


@cli.command()
@click.option(
    "--sample/--no-sample",
    default=None,
    help="Load the bundled sample corpus into an empty store "
    "(default: for the terminal chat only, never for the Telegram bot).",
)
@click.option(
    "--telegram",
    "telegram_only",
    is_flag=True,
    help="Run the Telegram bot or nothing: without a token, stop with an error instead of "
    "opening the terminal chat (for services and containers, which have no terminal).",
)
@click.pass_context
def run(ctx: click.Context, sample: bool | None, telegram_only: bool) -> None:
    """The main job: the Telegram bot with a token, else the terminal chat on the sample corpus."""
    settings = settings_of(ctx)
    telegram = bool(settings.telegram_bot_token)
    if telegram_only and not telegram:
        raise SettingsError(
            "TELEGRAM_BOT_TOKEN is empty or not set, and `run --telegram` starts only the "
            "Telegram bot: put the token from @BotFather in the environment (docker/.env)"
        )
    problem = webhook_problem(settings) if telegram else None
    if problem:  # before anything loads: the bot must not start at all
        raise SettingsError(problem)
    service = service_of(ctx)
    # A real bot answers from the operator's reports, not from our demonstration summaries.
    if sample if sample is not None else not telegram:
        loaded = service.ensure_sample()
        if loaded:
            click.echo(f"sample corpus: {loaded.summary()}", err=True)
    elif service.is_empty():
        click.echo(
            "the store is empty: add reports with `sectorbot ingest PATH|URL` or by forwarding "
            "posts to the bot (`sectorbot run --sample` loads the bundled sample)",
            err=True,
        )
    service = ready_service(ctx)
    if settings.telegram_bot_token:
        from sectorbot.bot.telegram.app import run_bot

        run_bot(service)
        return
    click.echo("No TELEGRAM_BOT_TOKEN set: starting the terminal chat.", err=True)
    from sectorbot.bot.cli.terminal import run_terminal_chat

    run_terminal_chat(service)


@cli.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """The job worker: poll feeds, send alerts, keep the index in step; no Telegram updates.

    Runs the jobs while it holds the job lease (one worker at a time does; another takes over
    within a poll tick when it dies), until SIGTERM or Ctrl-C gives the lease up.
    """
    settings = settings_of(ctx)
    if not settings.telegram_bot_token:
        raise SettingsError("TELEGRAM_BOT_TOKEN is not set: the job worker sends alerts with it")
    service = ready_service(ctx)
    from sectorbot.bot.telegram.app import run_job_worker

    run_job_worker(service)


@cli.command(name="eval")
@click.argument("questions", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option("--show-misses", is_flag=True, help="List the questions each mode got wrong.")
@click.option(
    "--split", type=click.Choice(["dev", "test", "all"]), default="all", show_default=True,
    help="Which half of the questions: tune on dev, report test.",
)  # fmt: skip
@click.pass_context
def eval_(
    ctx: click.Context, questions: Path, as_json: bool, show_misses: bool, split: str
) -> None:
    """Retrieved@5, cited@5, answer accuracy, abstention: hybrid vs BM25-only vs dense-only."""
    from sectorbot.index.evaluate import evaluate, format_table, load_questions

    asked = load_questions(questions, split)
    if not asked:
        raise click.ClickException(f"{questions} holds no questions (for --split {split})")
    report = evaluate(ready_service(ctx), asked)
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    click.echo(format_table(report))
    if show_misses:
        for mode, misses in report["misses"].items():
            for miss in misses:
                click.echo(f"  {mode}: {miss}")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Documents, passages, index size, last ingest and reindex."""
    service = service_of(ctx)
    numbers = asdict(service.stats())
    if as_json:
        click.echo(json.dumps(numbers, indent=2))
    else:
        for key, value in numbers.items():
            click.echo(f"{key:16} {value if value is not None else '-'}")


for _module in (cli_ops, cli_feeds, cli_feedback, cli_trend):
    _module.register(cli)


def main() -> None:
    """The `sectorbot` command: click reports usage errors; ours are one line each."""
    from sectorbot.bot.logs import redact, redact_uncaught
    from sectorbot.corpus.database import database_errors
    from sectorbot.corpus.text import one_line

    redact_uncaught()
    try:
        cli(prog_name="sectorbot")
    except SettingsError as exc:
        click.echo(f"sectorbot: invalid setting: {exc}", err=True)
        sys.exit(2)
    except SectorbotError as exc:
        click.echo(f"sectorbot: error: {exc}", err=True)
        sys.exit(1)
    except database_errors() as exc:  # damage or a lost server after the store opened
        reason = redact(one_line(str(exc)))
        click.echo(
            f"sectorbot: error: the database failed ({reason}); `sectorbot doctor` checks it",
            err=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
