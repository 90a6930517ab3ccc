"""The terminal chat: the README's default run when no Telegram token is set."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import TYPE_CHECKING

from sectorbot.bot.render import render_documents, render_text
from sectorbot.index.errors import QueryError

if TYPE_CHECKING:
    from sectorbot.bot.service import Service

NO_REPORTS = "The store holds no reports yet: add some with `sectorbot ingest PATH|URL`."
HELP = """Ask anything about the Pokrovsk sector. Commands:
  /sources [query]   reports I have (matching a query, or the newest)
  /latest            the newest reports
  /about             corpus size, dates and index
  /trend [direction] daily attacks on a direction (Pokrovsk by default), as a table
  /quit              leave (so does an empty line or Ctrl-D)"""


def handle_line(service: Service, line: str) -> str | None:
    """One line in, the reply out (None means: leave)."""
    text = line.strip()
    if not text or text in ("/quit", "/exit"):
        return None
    command, _, rest = text.partition(" ")
    if command == "/help":
        return HELP
    if command == "/sources":
        return render_documents(service.sources(rest.strip() or None))
    if command == "/latest":
        return render_documents(service.latest())
    if command == "/about":
        return "\n".join(f"{k}: {v}" for k, v in asdict(service.about()).items())
    if command == "/trend":
        return trend_table(service, rest.strip())
    answer = service.ask(text)
    reply = render_text(answer)
    if not answer.answered and service.is_empty():
        reply += "\n" + NO_REPORTS
    return reply


def trend_table(service: Service, asked: str) -> str:
    """A direction's daily counts as the terminal shows them (`sectorbot trend`'s table)."""
    from sectorbot.bot.trend.text import table
    from sectorbot.index import directions

    direction = directions.resolve(asked) if asked else directions.DEFAULT
    if direction is None:
        return f"No direction called {asked!r}: try Pokrovsk, Dobropillia or a place in one."
    series = service.trend(direction)
    if not series.points:
        return f"No report I hold gives daily counts for the {direction.name()} direction."
    return table(series)


def run_terminal_chat(service: Service) -> None:
    """Answer questions and commands typed in the terminal until an empty line or Ctrl-D."""
    interactive = sys.stdin.isatty()
    print("sectorbot — questions about the Pokrovsk sector, answered with sources.")
    print("Type /help for commands; an empty line or Ctrl-D leaves.")
    while True:
        try:
            line = input("you> " if interactive else "")
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if not interactive:  # piped in: show the question, so the output reads as a chat
            print(f"you> {line}")
        try:
            reply = handle_line(service, line)
        except QueryError as exc:  # a malformed filter such as since:yesterday
            reply = f"Sorry: {exc}"
        if reply is None:
            return
        print(reply + "\n")
